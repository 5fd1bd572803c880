import type { ComponentChildren } from "preact";

/** One headline figure. `name` is what tests and screen readers find it by. */
export function Stat({ name, value, hint, children }: { name: string; value: ComponentChildren; hint?: string | undefined; children?: ComponentChildren }) {
  return (
    <div class="stat" data-stat={name}>
      <dt>{name}</dt>
      <dd>
        <span class="stat-value">{value}</span>
        {hint && <span class="stat-hint">{hint}</span>}
        {children}
      </dd>
    </div>
  );
}
