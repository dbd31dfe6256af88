"""The poster page: one self-contained HTML document (no build step, no CDN, no framework)."""

#: The page served at ``/``. Its script reads ``/api/model`` and posts the chosen or
#: dropped file's raw bytes to ``/api/predict``.
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>skposter: genres of a poster</title>
<link rel="icon" href="data:,">
<style>
  :root { --ink: #1d2330; --muted: #667085; --line: #e4e7ec; --accent: #3451b2;
          --accent-soft: #dfe6fb; --bad: #b42318; --bad-soft: #fef3f2; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
         color: var(--ink); background: #f6f7f9; }
  header { padding: 14px 28px; background: #fff; border-bottom: 1px solid var(--line); }
  header h1 { margin: 0; font-size: 19px; }
  header p { margin: 2px 0 0; color: var(--muted); font-size: 13px; }
  main { display: grid; grid-template-columns: 300px 1fr; gap: 24px; padding: 24px 28px;
         max-width: 1180px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 10px;
            padding: 18px; }
  h2 { margin: 0 0 12px; font-size: 15px; }
  #drop { display: block; border: 2px dashed #b8c0cc; border-radius: 10px; padding: 22px 12px;
          text-align: center; color: var(--muted); cursor: pointer; }
  #drop.over { border-color: var(--accent); background: var(--accent-soft); }
  #drop strong { color: var(--accent); }
  #file { display: block; margin: 10px auto 0; font-size: 12px; }
  #poster { display: block; max-width: 100%; margin: 16px auto 0; border-radius: 6px;
            box-shadow: 0 1px 4px rgba(0,0,0,.2); }
  #status { color: var(--muted); min-height: 1.4em; margin: 10px 0 0; font-size: 13px; }
  #error { display: none; margin: 12px 0 0; padding: 10px 12px; border-radius: 8px;
           color: var(--bad); background: var(--bad-soft); border: 1px solid #fecdca; }
  #predicted { display: flex; flex-wrap: wrap; gap: 6px; min-height: 28px; margin: 0 0 16px;
               padding: 0; list-style: none; }
  #predicted li { padding: 3px 12px; border-radius: 14px; background: var(--accent);
                  color: #fff; font-weight: 600; }
  .empty { color: var(--muted); }
  .bar { display: grid; grid-template-columns: 110px 1fr 48px; align-items: center; gap: 10px;
         margin: 4px 0; font-size: 13px; }
  .bar .track { position: relative; height: 14px; background: #eef0f3; border-radius: 7px; }
  .bar .fill { position: absolute; left: 0; top: 0; bottom: 0; border-radius: 7px;
               background: #a9b4c8; }
  .bar.predicted .fill { background: var(--accent); }
  .bar.predicted .name { font-weight: 600; }
  .bar .tick { position: absolute; top: -3px; bottom: -3px; width: 2px; background: var(--ink);
               margin-left: -1px; }
  .bar .value { text-align: right; font-variant-numeric: tabular-nums; }
  .legend { color: var(--muted); font-size: 12px; margin: 10px 0 0; }
  .legend i { display: inline-block; width: 2px; height: 11px; background: var(--ink);
              vertical-align: middle; margin: 0 4px; }
  #maps { grid-column: 1 / -1; }
  #heatmaps { display: flex; flex-wrap: wrap; gap: 18px; }
  #heatmaps figure { margin: 0; text-align: center; }
  #heatmaps img { display: block; height: 300px; border-radius: 6px;
                  box-shadow: 0 1px 4px rgba(0,0,0,.2); }
  #heatmaps figcaption { margin-top: 6px; font-size: 13px; }
  #note { color: var(--muted); font-size: 13px; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<header>
  <h1>Genres of a poster</h1>
  <p id="model">loading the model&hellip;</p>
</header>
<main>
  <section>
    <h2>Poster</h2>
    <label id="drop" for="file">Drop a poster here or <strong>choose a file</strong>
      <input id="file" type="file" accept="image/*">
    </label>
    <p id="status"></p>
    <div id="error" role="alert"></div>
    <img id="poster" alt="the uploaded poster" hidden>
  </section>
  <section id="results" hidden>
    <h2>Predicted genres</h2>
    <ul id="predicted"></ul>
    <h2>Probability of each genre</h2>
    <div id="bars"></div>
    <p class="legend">Bar: the model's probability. <i></i> the genre's decision threshold
      (tuned by the model, or 0.5); dark bars are the predicted genres.</p>
  </section>
  <section id="maps" hidden>
    <h2>Where the poster shows its top genres</h2>
    <div id="heatmaps"></div>
    <p class="legend">Each map tints the poster from blue to red where a region raises
      the genre's score, red the most (each genre on its own scale); regions without
      evidence for the genre keep their own colours.</p>
    <p id="note" hidden></p>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let maxBytes = Infinity;

function showError(message) {
  $("error").textContent = message;
  $("error").style.display = message ? "block" : "none";
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function loadModel() {
  try {
    const info = await (await fetch("/api/model")).json();
    maxBytes = info.max_upload_bytes;
    let text = `${info.model} with ${info.genres.length} genres; uploads up to ` +
               `${(maxBytes / 1e6).toFixed(1)} MB.`;
    if (info.metadata_columns.length) {
      text += " This model was trained with metadata and needs it for every poster: " +
              "the page cannot predict with it (serve a posters-only model).";
      showError("This model needs metadata (" + info.metadata_columns.join(", ") +
                "); the poster page serves posters-only models.");
    }
    $("model").textContent = text;
  } catch (err) {
    $("model").textContent = "the server does not answer: " + err;
  }
}

async function upload(file) {
  showError("");
  // A new upload hides the previous poster's results, whatever this one's outcome.
  for (const id of ["poster", "results", "maps"]) $(id).hidden = true;
  if (file.size > maxBytes) {
    showError(`${file.name} is ${(file.size / 1e6).toFixed(1)} MB; the limit is ` +
              `${(maxBytes / 1e6).toFixed(1)} MB.`);
    return;
  }
  $("status").textContent = `Reading ${file.name}\u2026`;
  let answer, data;
  try {
    answer = await fetch("/api/predict", {method: "POST", body: file,
      headers: {"Content-Type": "application/octet-stream"}});
    data = await answer.json();
  } catch (err) {
    $("status").textContent = "";
    showError(`${file.name}: the server could not be reached or did not answer (${err}).`);
    return;
  }
  $("status").textContent = "";
  if (!answer.ok) {
    showError(`${file.name}: ${data.error} (HTTP ${answer.status})`);
    return;
  }
  render(file.name, data);
}

function render(name, data) {
  $("poster").src = data.poster;
  $("poster").hidden = false;
  $("status").textContent = `${name}: ${data.width} \u00d7 ${data.height} pixels`;
  const predicted = $("predicted");
  predicted.replaceChildren(...data.predicted.map((g) => element("li", "", g)));
  if (!data.predicted.length) predicted.append(element("li", "empty", "no genre"));
  $("bars").replaceChildren(...data.genres.map(bar));
  $("results").hidden = false;
  $("heatmaps").replaceChildren(...data.heatmaps.map((m) => {
    const figure = element("figure", "heatmap");
    const img = element("img");
    img.src = m.image;
    img.alt = `heat map of ${m.genre}`;
    figure.append(img, element("figcaption", "",
                               `${m.genre} ${m.probability.toFixed(2)} (${m.method})`));
    return figure;
  }));
  $("note").textContent = data.heatmap_note || "";
  $("note").hidden = !data.heatmap_note;
  $("maps").hidden = false;
}

function bar(g) {
  const row = element("div", g.predicted ? "bar predicted" : "bar");
  row.dataset.genre = g.genre;
  const track = element("div", "track");
  const fill = element("div", "fill");
  fill.style.width = `${(100 * g.probability).toFixed(1)}%`;
  const tick = element("div", "tick");
  tick.style.left = `${(100 * g.threshold).toFixed(1)}%`;
  tick.title = `threshold ${g.threshold.toFixed(2)}`;
  track.append(fill, tick);
  row.append(element("span", "name", g.genre), track,
             element("span", "value", g.probability.toFixed(2)));
  return row;
}

$("file").addEventListener("change", (event) => {
  if (event.target.files.length) upload(event.target.files[0]);
  event.target.value = "";
});
const drop = $("drop");
drop.addEventListener("dragover", (event) => {
  event.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  if (event.dataTransfer.files.length) upload(event.dataTransfer.files[0]);
});
loadModel();
</script>
</body>
</html>
"""
