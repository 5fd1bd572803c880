import { useState } from "preact/hooks";
import { useQuery } from "../nav.ts";
import { PRESETS } from "../range.ts";

const toInput = (iso: string) => iso.slice(0, 16);

/** Last hour / 24 h / 7 d / 30 d, or a custom UTC range; kept in the URL. */
export function RangePicker() {
  const { range, setQuery } = useQuery();
  const [custom, setCustom] = useState(range.id === "custom");
  return (
    <form
      class="range"
      aria-label="Time range"
      onSubmit={(event) => {
        event.preventDefault();
        const form = new FormData(event.currentTarget);
        const from = String(form.get("from") ?? "");
        const to = String(form.get("to") ?? "");
        if (from && to) setQuery({ range: undefined, cursor: undefined, from: `${from}:00Z`, to: `${to}:00Z` });
      }}
    >
      <label>
        <span class="visually-hidden">Time range</span>
        <select
          name="range"
          value={custom ? "custom" : range.id}
          onChange={(event) => {
            const value = event.currentTarget.value;
            if (value === "custom") return setCustom(true);
            setCustom(false);
            setQuery({ range: value, from: undefined, to: undefined, cursor: undefined });
          }}
        >
          {PRESETS.map((p) => (
            <option value={p.id}>{p.label}</option>
          ))}
          <option value="custom">Custom…</option>
        </select>
      </label>
      {custom && (
        <>
          <label>
            From (UTC) <input type="datetime-local" name="from" defaultValue={toInput(range.from)} required />
          </label>
          <label>
            To (UTC) <input type="datetime-local" name="to" defaultValue={toInput(range.to)} required />
          </label>
          <button type="submit">Apply</button>
        </>
      )}
    </form>
  );
}
