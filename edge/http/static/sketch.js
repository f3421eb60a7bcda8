// Draw a zone or a line over the live picture and copy its TOML ([15]). Clicks add
// corners in coordinates normalised to the frame (0..1), as [[zones]] and [[lines]] take
// them, so the block survives a change of resolution. Nothing is sent to the device: the
// block is pasted into the config, and `edge check-config` checks it.
"use strict";

(() => {
  const canvas = document.getElementById("sketch");
  const video = document.getElementById("video");
  const toml = document.getElementById("toml");
  const shape = { kind: "zone", points: [] };

  function round(value) {
    return Math.round(Math.min(Math.max(value, 0), 1) * 1000) / 1000;
  }

  function block() {
    const pts = shape.points.map((p) => "[" + p[0] + ", " + p[1] + "]").join(", ");
    const name = document.getElementById("sketch-name").value || shape.kind + "_1";
    if (shape.kind === "line") {
      if (shape.points.length < 2) return "# a line: click its two ends";
      return "[[lines]]\nname = \"" + name + "\"\npoints = [" + pts + "]\n";
    }
    if (shape.points.length < 3) return "# a zone: click at least three corners";
    return "[[zones]]\nname = \"" + name + "\"\npoints = [" + pts + "]\n";
  }

  function redraw() {
    canvas.width = canvas.clientWidth;
    canvas.height = canvas.clientHeight;
    const g = canvas.getContext("2d");
    g.clearRect(0, 0, canvas.width, canvas.height);
    if (shape.points.length) {
      g.strokeStyle = "#ffd400";
      g.fillStyle = "rgba(255, 212, 0, 0.2)";
      g.lineWidth = 2;
      g.beginPath();
      shape.points.forEach((p, i) => {
        const x = p[0] * canvas.width;
        const y = p[1] * canvas.height;
        if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
      });
      if (shape.kind === "zone" && shape.points.length > 2) { g.closePath(); g.fill(); }
      g.stroke();
    }
    toml.value = block();
  }

  canvas.addEventListener("click", (event) => {
    const box = canvas.getBoundingClientRect();
    if (shape.kind === "line" && shape.points.length === 2) shape.points = [];
    shape.points.push([round((event.clientX - box.left) / box.width),
      round((event.clientY - box.top) / box.height)]);
    redraw();
  });
  document.querySelectorAll("input[name=sketch-kind]").forEach((radio) => {
    radio.addEventListener("change", () => { shape.kind = radio.value; shape.points = []; redraw(); });
  });
  document.getElementById("sketch-name").addEventListener("input", redraw);
  document.getElementById("sketch-undo").addEventListener("click", () => { shape.points.pop(); redraw(); });
  document.getElementById("sketch-clear").addEventListener("click", () => { shape.points = []; redraw(); });
  document.getElementById("sketch-copy").addEventListener("click", () => {
    toml.select();
    // The clipboard API needs a secure origin, which a LAN device over http is not.
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(toml.value);
    else document.execCommand("copy");
  });
  video.addEventListener("load", redraw);
  window.addEventListener("resize", redraw);
  redraw();
})();
