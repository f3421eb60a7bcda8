// The status page's only script: poll /api/status once a second and fill the page.
// No framework, no build step, nothing from another origin (the CSP forbids it anyway).
"use strict";

const $ = (id) => document.getElementById(id);

function text(id, value) {
  $(id).textContent = value === null || value === undefined ? "-" : String(value);
}

function duration(seconds) {
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return (h ? h + " h " : "") + (h || m ? m + " min " : "") + (s % 60) + " s";
}

function fill(status) {
  const p = status.pipeline;
  text("device", status.device);
  const state = $("state");
  state.textContent = status.state;
  state.className = "state " + status.state;
  const problems = $("problems");
  problems.hidden = status.problems.length === 0;
  problems.textContent = status.problems.length ? "Degraded: " + status.problems.join("; ") : "";
  text("fps", p.fps.toFixed(1));
  text("infer", p.infer_ms_p50.toFixed(2) + " ms / " + p.infer_ms_p95.toFixed(2) + " ms");
  text("frames", p.frames);
  text("dropped", p.dropped);
  text("uptime", duration(status.uptime_s));
  text("temperature", status.cpu_temperature_c === null ? "n/a" : status.cpu_temperature_c + " °C");
  text("viewers", status.http.viewers + " of " + status.http.max_viewers);
  const source = status.source;
  text("source", source.kind + ": " + source.state +
    (source.reconnects ? " (reconnects " + source.reconnects + ")" : ""));
  text("sinks", status.sinks.map((s) => s.name + (s.state ? " " + s.state : "") +
    (s.dropped ? " (dropped " + s.dropped + ")" : "")).join(", ") || "none");
  text("model-name", status.model.name);
  text("model-task", status.model.task);
  text("model-sha", status.model.sha256);
  text("model-labels", status.model.labels.join(", "));
  const body = $("detections");
  body.replaceChildren(...status.detections.map((d) => {
    const row = document.createElement("tr");
    const time = d.ts ? d.ts.replace(/^.*T/, "").replace(/\+.*$|Z$/, "") : "";
    const box = d.box ? d.box.map((v) => v.toFixed(2)).join(", ") : "";
    for (const value of [time, d.frame, d.label, d.score.toFixed(2), box]) {
      const cell = document.createElement("td");
      cell.textContent = value;
      row.appendChild(cell);
    }
    return row;
  }));
  text("version", "edge-infer " + status.version);
  text("updated", new Date().toLocaleTimeString());
}

async function poll() {
  try {
    const answer = await fetch("/api/status", { cache: "no-store", credentials: "same-origin" });
    if (answer.status === 401) {
      location.reload(); // the login form
      return;
    }
    fill(await answer.json());
  } catch (error) {
    const state = $("state");
    state.textContent = "offline: the device does not answer";
    state.className = "state offline";
  }
}

function switchPicture() {
  const raw = $("raw").checked;
  $("video").src = "/stream.mjpg" + (raw ? "?raw=1" : "") + (raw ? "&" : "?") + "t=" + Date.now();
  $("snapshot").href = "/latest.jpg" + (raw ? "?raw=1" : "");
}

document.addEventListener("DOMContentLoaded", () => {
  $("raw").addEventListener("change", switchPicture);
  // A stream that ended (the device restarted, a network blip) is reopened.
  $("video").addEventListener("error", () => setTimeout(switchPicture, 2000));
  poll();
  setInterval(poll, 1000);
});
