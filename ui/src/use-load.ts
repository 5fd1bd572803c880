import { useEffect, useState } from "preact/hooks";

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Runs `load` whenever `key` changes (the previous request is aborted), and
 * keeps the last data while the next loads, so a page does not flash blank.
 */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, key: string): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setState((previous) => ({ ...previous, loading: true }));
    load(controller.signal).then(
      (data) => controller.signal.aborted || setState({ data, loading: false }),
      (error: Error) => controller.signal.aborted || setState((previous) => ({ ...(previous.data === undefined ? {} : { data: previous.data }), error, loading: false })),
    );
    return () => controller.abort();
  }, [key, attempt]);
  return { data: state.data, error: state.error, loading: state.loading, reload: () => setAttempt((n) => n + 1) };
}
