import { usd } from "../format.ts";

/** A record's cost: the exact amount, or "unpriced" (no known price: never shown as $0). */
export function Cost({ record }: { record: { cost_usd: string | null; cost_source: string | null } }) {
  if (record.cost_usd === null) return <span class="unpriced">unpriced</span>;
  return <>{usd(record.cost_usd)}</>;
}
