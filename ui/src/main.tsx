import { render } from "preact";
import { App } from "./app.tsx";
import "./styles.css";

const saved = localStorage.getItem("loupe-theme");
if (saved === "light" || saved === "dark") document.documentElement.dataset.theme = saved;
render(<App />, document.getElementById("app")!);
