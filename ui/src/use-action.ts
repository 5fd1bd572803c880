import { useState } from "preact/hooks";

/**
 * A page's change to its list (create, revoke, delete): the form is busy while
 * it runs, what went wrong is shown, and the list is loaded again afterwards
 * whatever happened. `act` gives `{ value }` when the change went through.
 */
export function useAction(reload: () => void) {
  const [problem, setProblem] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  async function act<T>(work: () => Promise<T>): Promise<{ value: T } | undefined> {
    setBusy(true);
    setProblem(undefined);
    try {
      return { value: await work() };
    } catch (error) {
      setProblem((error as Error).message);
      return undefined;
    } finally {
      setBusy(false);
      reload();
    }
  }
  return { problem, setProblem, busy, act };
}
