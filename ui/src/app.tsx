import { useEffect, useState } from "preact/hooks";
import { LocationProvider, Route, Router, useLocation } from "preact-iso";
import { get, onUnauthorized, post, ROUTE_LOGOUT, type Settings } from "./api.ts";
import { RangePicker } from "./components/range-picker.tsx";
import { ErrorState, Loading } from "./components/states.tsx";
import { Keys } from "./pages/keys.tsx";
import { Limits } from "./pages/limits.tsx";
import { Live } from "./pages/live.tsx";
import { Login } from "./pages/login.tsx";
import { Models } from "./pages/models.tsx";
import { NotFound } from "./pages/not-found.tsx";
import { Overview } from "./pages/overview.tsx";
import { Projects, Users } from "./pages/people.tsx";
import { Requests } from "./pages/requests.tsx";
import { SessionDetail } from "./pages/session-detail.tsx";
import { Sessions } from "./pages/sessions.tsx";
import { SettingsPage } from "./pages/settings.tsx";
import { rangeParams, readRange } from "./range.ts";
import { SettingsContext } from "./settings-context.ts";
import { ThemeToggle } from "./components/theme-toggle.tsx";

/** The pages, in navigation order. src/dashboard/ui-routes.ts lists the same paths for the server. */
const NAV = [
  { path: "/", label: "Overview" },
  { path: "/requests", label: "Requests" },
  { path: "/sessions", label: "Sessions" },
  { path: "/users", label: "Users" },
  { path: "/projects", label: "Projects" },
  { path: "/models", label: "Models" },
  { path: "/live", label: "Live" },
  { path: "/keys", label: "Keys" },
  { path: "/limits", label: "Limits" },
  { path: "/settings", label: "Settings" },
];

export function App() {
  const [settings, setSettings] = useState<Settings | undefined>();
  const [problem, setProblem] = useState<Error | undefined>();
  const [needsLogin, setNeedsLogin] = useState(false);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => onUnauthorized(() => setNeedsLogin(true)), []);
  useEffect(() => {
    setProblem(undefined);
    get("/api/settings", {}).then(
      (value) => {
        setSettings(value);
        setNeedsLogin(false);
      },
      (error: Error) => setProblem(error),
    );
  }, [attempt]);

  if (needsLogin) return <Login onDone={() => setAttempt((n) => n + 1)} />;
  if (problem && !settings) {
    return (
      <main id="main" class="boot">
        <ErrorState error={problem} retry={() => setAttempt((n) => n + 1)} />
      </main>
    );
  }
  if (!settings) return <Loading label="Connecting to the gateway…" />;
  return (
    <SettingsContext.Provider value={settings}>
      <LocationProvider>
        <Shell settings={settings} />
      </LocationProvider>
    </SettingsContext.Provider>
  );
}

function Shell({ settings }: { settings: Settings }) {
  const { path, query } = useLocation();
  const keep = rangeParams(readRange(new URLSearchParams(query)));
  const keepQuery = new URLSearchParams(keep).toString();
  const current = (navPath: string) => (navPath === "/" ? path === "/" : path === navPath || path.startsWith(`${navPath}/`));
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/" aria-label="Loupe overview">
          Loupe
        </a>
        <nav aria-label="Pages">
          <ul>
            {NAV.map((item) => (
              <li key={item.path}>
                <a href={`${item.path}${keepQuery ? `?${keepQuery}` : ""}`} aria-current={current(item.path) ? "page" : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="top-tools">
          {!["/live", "/settings", "/keys", "/limits"].includes(path) && <RangePicker />}
          <ThemeToggle />
          {settings.access.session_cookie && (
            <button type="button" class="link" onClick={() => post(ROUTE_LOGOUT, {}).finally(() => location.assign("/"))}>
              Sign out
            </button>
          )}
        </div>
      </header>
      <main id="main">
        <Router>
          <Route path="/" component={Overview} />
          <Route path="/requests" component={Requests} />
          <Route path="/requests/:id" component={Requests} />
          <Route path="/sessions" component={Sessions} />
          <Route path="/sessions/:id" component={SessionDetail} />
          <Route path="/users" component={Users} />
          <Route path="/projects" component={Projects} />
          <Route path="/models" component={Models} />
          <Route path="/live" component={Live} />
          <Route path="/keys" component={Keys} />
          <Route path="/limits" component={Limits} />
          <Route path="/settings" component={SettingsPage} />
          <Route default component={NotFound} />
        </Router>
      </main>
      <footer class="foot muted">
        Loupe {settings.gateway.version} · <a href="/reference">API reference</a>
      </footer>
    </>
  );
}
