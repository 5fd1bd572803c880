import type { ComponentChildren } from "preact";

export interface Column<T> {
  key: string;
  label: string;
  cell: (row: T) => ComponentChildren;
  numeric?: boolean;
  /** When set, the header is a button that sorts by this field. */
  sortKey?: string;
}

/**
 * A table with optional sortable headers (aria-sort tells assistive tech the
 * order). Rows can be links: `href(row)` makes the first cell a link and the
 * whole row clickable.
 */
export function DataTable<T>(props: {
  caption: string;
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string;
  href?: (row: T) => string;
  sort?: { key: string; order: "asc" | "desc"; onSort: (key: string) => void };
  empty?: ComponentChildren;
}) {
  const { columns, rows, sort } = props;
  if (rows.length === 0) return <p class="state state-empty">{props.empty ?? "Nothing in this range."}</p>;
  return (
    <div class="table-wrap">
      <table>
        <caption class="visually-hidden">{props.caption}</caption>
        <thead>
          <tr>
            {columns.map((column) => {
              const active = sort && column.sortKey === sort.key;
              return (
                <th key={column.key} scope="col" class={column.numeric ? "num" : undefined} aria-sort={active ? (sort.order === "asc" ? "ascending" : "descending") : undefined}>
                  {sort && column.sortKey ? (
                    <button type="button" class="sort" onClick={() => sort.onSort(column.sortKey!)}>
                      {column.label}
                      <span aria-hidden="true">{active ? (sort.order === "asc" ? " ▲" : " ▼") : ""}</span>
                    </button>
                  ) : (
                    column.label
                  )}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={props.rowKey(row)} data-row={props.rowKey(row)}>
              {columns.map((column, i) => (
                <td key={column.key} class={column.numeric ? "num" : undefined} data-col={column.key}>
                  {i === 0 && props.href ? <a href={props.href(row)}>{column.cell(row)}</a> : column.cell(row)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
