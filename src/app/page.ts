// The app's one page: pick the task and a clip (upload or example), the settings with the model's
// defaults, translate; each job's progress from its server-sent events, cancel; the result in
// synchronised players at 4x with nearest-neighbour scaling; the gallery of past runs; jobs an
// earlier server did not finish, to re-run or remove. The script and the style are files of their
// own (/app.js, /app.css): the page's Content-Security-Policy allows nothing inline. The server's
// token (guard.ts) is in the page's meta tag; every request that changes something sends it.
export const APP_SCALE = 4;

export const APP_STYLE = `
body { font: 15px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1200px; color: #1d232a; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 24px 0 8px; }
.muted { color: #5b6672; } form { display: grid; gap: 10px; background: #f4f6f8; padding: 14px; border-radius: 8px; }
fieldset { border: 0; padding: 0; margin: 0; display: flex; gap: 14px; flex-wrap: wrap; align-items: center; }
label { display: inline-flex; gap: 6px; align-items: center; } input[type=number] { width: 80px; }
button { font: inherit; padding: 6px 14px; border-radius: 6px; border: 1px solid #8894a0; background: #fff; cursor: pointer; }
button.primary { background: #1f6feb; color: #fff; border-color: #1f6feb; }
#message { color: #b42318; font-weight: 600; min-height: 1.4em; }
#jobs { list-style: none; padding: 0; } #jobs li { display: flex; gap: 12px; align-items: center; padding: 6px 0; }
#jobs progress { width: 240px; }
.players { display: flex; gap: 12px; flex-wrap: wrap; align-items: flex-start; }
.players figure { margin: 0; } .players figcaption { font-size: 13px; color: #5b6672; }
.players video, .players img { image-rendering: pixelated; image-rendering: crisp-edges; background: #000; display: block; }
.controls { display: flex; gap: 10px; align-items: center; margin: 8px 0; } #scrub { width: 320px; }
#gallery { list-style: none; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 8px; }
#gallery button { width: 100%; text-align: left; }
#interrupted { list-style: none; padding: 0; } #interrupted li { display: flex; gap: 10px; align-items: center; padding: 4px 0; }
pre { background: #f4f6f8; padding: 8px; font-size: 12px; overflow: auto; }
`;

export const APP_SCRIPT = `
const SCALE = ${APP_SCALE};
const $ = (s) => document.querySelector(s);
const TOKEN = document.querySelector('meta[name=worldwander-token]').content;
const post = (url, body) => fetch(url, { method: 'POST', body, headers: { 'x-worldwander-token': TOKEN } });
let info = null;
const names = { three2one: 'third person → first person', one2three: 'first person → third person' };

function message(text) { $('#message').textContent = text || ''; }

function stageText(e) {
  if (e.kind === 'queued') return e.ahead > 0 ? 'queued: ' + e.ahead + ' job(s) ahead' : 'queued';
  if (e.kind === 'started') return 'starting';
  if (e.kind === 'progress') {
    if (e.stage === 'loading') return 'loading the model ' + e.done + '/' + e.total;
    if (e.stage === 'denoising') return 'denoising step ' + e.done + '/' + e.total + (e.etaSeconds !== null ? ' — about ' + Math.ceil(e.etaSeconds) + ' s left' : '');
    return e.stage;
  }
  if (e.kind === 'done') return 'done';
  if (e.kind === 'failed') return 'failed: ' + e.message;
  return 'cancelled';
}

function attach(id) {
  let row = document.querySelector('#jobs li[data-id="' + id + '"]');
  if (!row) {
    row = document.createElement('li');
    row.dataset.id = id;
    row.innerHTML = '<span class="name"></span><progress max="1" value="0"></progress><span class="status"></span><button type="button" class="cancel">Cancel</button>';
    row.querySelector('.name').textContent = id;
    row.querySelector('.cancel').addEventListener('click', async () => {
      const r = await post('/api/jobs/' + id + '/cancel');
      if (!r.ok) message((await r.json()).error);
    });
    $('#jobs').prepend(row);
  }
  const events = new EventSource('/api/jobs/' + id + '/events');
  const seen = [];
  const on = (e) => {
    seen.push(e.kind === 'progress' ? e.stage : e.kind);
    row.dataset.events = seen.join(' ');
    row.dataset.state = e.kind;
    row.querySelector('.status').textContent = stageText(e);
    const bar = row.querySelector('progress');
    if (e.kind === 'progress') { bar.max = e.total; bar.value = e.done; }
    if (e.kind === 'done') bar.value = bar.max;
    if (e.kind === 'done' || e.kind === 'failed' || e.kind === 'cancelled') {
      events.close();
      row.querySelector('.cancel').remove();
      if (e.kind === 'done') { showRun(e.run); gallery(); }
      if (e.kind === 'failed') message(e.message);
    }
  };
  for (const kind of ['queued', 'started', 'progress', 'done', 'failed', 'cancelled']) events.addEventListener(kind, (m) => on(JSON.parse(m.data)));
}

function player(run, file, label) {
  const figure = document.createElement('figure');
  const w = info.size.width * SCALE, h = info.size.height * SCALE;
  const media = file.endsWith('.png') ? document.createElement('img') : document.createElement('video');
  media.src = '/runs/' + run.id + '/' + file;
  media.width = w; media.height = h;
  if (media.tagName === 'VIDEO') { media.muted = true; media.loop = true; media.playsInline = true; media.preload = 'auto'; }
  media.className = file.replace(/\\..*/, '');
  const caption = document.createElement('figcaption');
  caption.textContent = label;
  figure.append(media, caption);
  return figure;
}

function showRun(run) {
  const box = $('#result');
  box.hidden = false;
  box.dataset.run = run.id;
  $('#result-title').textContent = names[run.task] + ' — ' + run.source;
  $('#taken').textContent = run.taken || '';
  const players = $('#players');
  players.replaceChildren();
  const has = (f) => run.files.includes(f);
  if (has('reference.png')) players.append(player(run, 'reference.png', 'reference'));
  players.append(player(run, 'input.mp4', 'input (as the model saw it)'));
  players.append(player(run, 'generated.mp4', 'generated'));
  if (has('truth.mp4')) players.append(player(run, 'truth.mp4', 'ground truth'));
  const downloads = $('#downloads');
  downloads.replaceChildren();
  for (const f of ['generated.mp4', 'side_by_side.mp4', 'input.mp4', 'truth.mp4', 'run.json']) {
    if (!has(f)) continue;
    const a = document.createElement('a');
    a.href = '/runs/' + run.id + '/' + f; a.download = run.id + '-' + f; a.textContent = f; a.className = 'download';
    downloads.append(a, document.createTextNode(' '));
  }
  $('#settings').textContent = JSON.stringify({ task: run.task, ...run.settings, seconds: run.seconds, created: run.created }, null, 2);
  const videos = [...players.querySelectorAll('video')];
  const lead = players.querySelector('video.generated');
  $('#play').onclick = () => { const paused = lead.paused; for (const v of videos) paused ? v.play() : v.pause(); };
  lead.addEventListener('timeupdate', () => { if (lead.duration) $('#scrub').value = String(lead.currentTime / lead.duration); });
  $('#scrub').oninput = () => { for (const v of videos) if (v.duration) v.currentTime = Number($('#scrub').value) * v.duration; };
  for (const v of videos) v.play().catch(() => {});
}

async function gallery() {
  const runs = await (await fetch('/api/runs')).json();
  const list = $('#gallery');
  list.replaceChildren();
  for (const run of runs) {
    const li = document.createElement('li');
    li.className = 'run';
    li.dataset.run = run.id;
    const b = document.createElement('button');
    b.type = 'button';
    const from = run.settings.start ? ' from ' + run.settings.start + ' s' : '';
    b.textContent = names[run.task] + ' · ' + run.source + from + ' · ' + new Date(run.created).toLocaleString() + ' · ' + run.settings.steps + ' steps';
    b.onclick = () => showRun(run);
    li.append(b);
    list.append(li);
  }
  $('#gallery-empty').hidden = runs.length > 0;
}

function accepted(body) {
  if (body.ahead > 0) message('queued behind ' + body.ahead + ' job(s): it starts when they end');
  attach(body.id);
}

async function interruptedJobs() {
  const list = $('#interrupted');
  list.replaceChildren();
  const jobs = await (await fetch('/api/interrupted')).json();
  $('#interrupted-section').hidden = jobs.length === 0;
  for (const job of jobs) {
    const li = document.createElement('li');
    li.dataset.id = job.id;
    const text = document.createElement('span');
    text.textContent = names[job.task] + ' · ' + job.source + ' · ' + job.settings.steps + ' steps, guidance ' + job.settings.guidance + ', seed ' + job.settings.seed + ', ' + job.settings.sampler + ' · queued ' + new Date(job.created).toLocaleString();
    const rerun = document.createElement('button');
    rerun.type = 'button'; rerun.className = 'rerun'; rerun.textContent = 'Re-run';
    rerun.onclick = async () => {
      const r = await post('/api/jobs/' + job.id + '/rerun');
      const body = await r.json();
      if (!r.ok) { message(body.error); return; }
      li.remove();
      $('#interrupted-section').hidden = $('#interrupted').children.length === 0;
      accepted(body);
    };
    const remove = document.createElement('button');
    remove.type = 'button'; remove.className = 'remove'; remove.textContent = 'Remove';
    remove.onclick = async () => {
      const r = await post('/api/jobs/' + job.id + '/remove');
      if (!r.ok) { message((await r.json()).error); return; }
      li.remove();
      $('#interrupted-section').hidden = $('#interrupted').children.length === 0;
    };
    li.append(text, rerun, remove);
    list.append(li);
  }
}

function syncForm() {
  const task = document.querySelector('input[name=task]:checked').value;
  const upload = document.querySelector('input[name=source]:checked').value === 'upload';
  $('#upload-fields').hidden = !upload;
  $('#example-fields').hidden = upload;
  $('#reference-field').hidden = !(upload && task === 'one2three');
}

async function init() {
  info = await (await fetch('/api/info')).json();
  $('#model').textContent = info.model + ' · ' + info.size.width + 'x' + info.size.height + ', ' + info.size.frames + ' frames · uploads up to ' + (info.maxUploadBytes / 1048576).toFixed(1) + ' MB';
  for (const [k, v] of Object.entries(info.defaults)) { const el = $('#' + k); if (el) el.value = v; }
  $('#window-length').textContent = '(the model translates ' + info.windowSeconds.toFixed(2) + ' s of the clip at ' + info.size.fps + ' fps)';
  for (const name of info.examples) { const o = document.createElement('option'); o.value = name; o.textContent = name; $('#example').append(o); }
  for (const el of document.querySelectorAll('input[name=task], input[name=source]')) el.addEventListener('change', syncForm);
  syncForm();
  $('#job-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    message('');
    const form = new FormData();
    const task = document.querySelector('input[name=task]:checked').value;
    form.append('task', task);
    for (const k of ['steps', 'guidance', 'seed', 'sampler', 'start']) form.append(k, $('#' + k).value);
    if (document.querySelector('input[name=source]:checked').value === 'upload') {
      const video = $('#video').files[0];
      if (!video) { message('choose a video to upload'); return; }
      form.append('video', video, video.name);
      const ref = $('#reference').files[0];
      if (task === 'one2three' && ref) form.append('reference', ref, ref.name);
    } else {
      form.append('example', $('#example').value);
    }
    const r = await post('/api/jobs', form);
    const body = await r.json();
    if (!r.ok) { message(body.error); return; }
    accepted(body);
  });
  for (const job of await (await fetch('/api/jobs')).json()) attach(job.id);
  await interruptedJobs();
  await gallery();
  document.body.dataset.ready = 'true';
}
init().catch((e) => message(String(e)));
`;

export const APP_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="worldwander-token" content="%TOKEN%">
<title>WorldWander</title>
<link rel="stylesheet" href="/app.css">
</head>
<body>
<h1>WorldWander</h1>
<p class="muted">Translate a video between the first-person and the third-person view. <span id="model"></span></p>
<form id="job-form" novalidate>
  <fieldset><strong>Task</strong>
    <label><input type="radio" name="task" value="three2one" checked> third person → first person</label>
    <label><input type="radio" name="task" value="one2three"> first person → third person</label>
  </fieldset>
  <fieldset><strong>Clip</strong>
    <label><input type="radio" name="source" value="example" checked> an example</label>
    <label><input type="radio" name="source" value="upload"> upload</label>
    <span id="example-fields"><select id="example" aria-label="example clip"></select></span>
    <span id="upload-fields" hidden>
      <label>video <input type="file" id="video" accept="video/*"></label>
      <label id="reference-field" hidden>reference image <input type="file" id="reference" accept="image/*"></label>
    </span>
  </fieldset>
  <fieldset><strong>Settings</strong>
    <label>steps <input type="number" id="steps" min="1" max="200" step="1"></label>
    <label>guidance <input type="number" id="guidance" min="0" max="20" step="0.5"></label>
    <label>seed <input type="number" id="seed" min="0" step="1"></label>
    <label>sampler <select id="sampler"><option value="unipc">UniPC</option><option value="euler">Euler</option></select></label>
    <label>start at <input type="number" id="start" min="0" step="0.25"> s</label>
    <span class="muted" id="window-length"></span>
  </fieldset>
  <div><button class="primary" id="translate" type="submit">Translate</button></div>
</form>
<p id="message" role="alert"></p>
<ul id="jobs"></ul>
<section id="interrupted-section" hidden>
  <h2>Interrupted</h2>
  <p class="muted">The server stopped before these jobs finished; their inputs are kept until you re-run or remove them.</p>
  <ul id="interrupted"></ul>
</section>
<section id="result" hidden>
  <h2 id="result-title"></h2>
  <p class="muted" id="taken"></p>
  <div class="players" id="players"></div>
  <div class="controls"><button type="button" id="play">Play / pause</button><input type="range" id="scrub" min="0" max="1" step="0.001" value="0" aria-label="position"></div>
  <p>Download: <span id="downloads"></span></p>
  <pre id="settings"></pre>
</section>
<h2>Gallery</h2>
<p id="gallery-empty" class="muted">No runs yet.</p>
<ul id="gallery"></ul>
<script src="/app.js"></script>
</body>
</html>
`;
