"""The stylesheet and the script: [n] markers reveal their source card; the transcript follows new text."""

CSS = """
.gradio-container { width: 100% !important; max-width: 1360px !important; margin: 0 auto !important; }
.app-head { display: flex; align-items: baseline; gap: 14px; padding: 6px 2px 10px;
  border-bottom: 2px solid #183868; margin-bottom: 4px; }
.app-head .brand { font-size: 1.6rem; font-weight: 700; color: #183868; letter-spacing: -.01em; }
.app-head .tagline { color: #64748b; font-size: .95rem; }
.muted { color: #64748b; }

/* chat transcript */
.transcript { color: #1f2937; background: #fff; border: 1px solid #e2e8f0; border-radius: 12px;
  padding: 16px 18px; min-height: 360px; max-height: 62vh; overflow-y: auto; font-size: .97rem;
  line-height: 1.6; }
.transcript.empty { display: flex; flex-direction: column; justify-content: center; align-items: center;
  text-align: center; color: #475569; }
.transcript.empty h3 { color: #183868; margin: 0 0 6px; font-size: 1.2rem; }
.transcript.empty p { max-width: 460px; margin: 0; }
.msg { margin: 0 0 14px; }
.msg p { margin: 0 0 8px; }
.msg p:last-child { margin-bottom: 0; }
.msg.user { margin-left: auto; max-width: 80%; width: fit-content; background: #eef2ff; color: #1e293b;
  border-radius: 12px 12px 2px 12px; padding: 8px 14px; font-weight: 500; }
.msg.bot { border-left: 3px solid #183868; padding: 2px 0 2px 14px; }
.msg.bot.abstained { border-left-color: #d97706; }
.msg.bot.error { border-left-color: #dc2626; color: #991b1b; }
.msg.bot.streaming p:last-child::after { content: "▍"; color: #183868;
  animation: blink 1s steps(1) infinite; }
@keyframes blink { 50% { opacity: 0; } }
.msg .mode { display: inline-block; font-size: .72rem; font-weight: 600; letter-spacing: .06em;
  text-transform: uppercase; color: #183868; background: #e0e7ff; border-radius: 999px; padding: 1px 9px;
  margin-bottom: 6px; }
.msg.abstained .mode { color: #92400e; background: #fef3c7; }
.cite-marker { display: inline-flex; align-items: center; justify-content: center; min-width: 1.45em;
  height: 1.45em; padding: 0 4px; margin: 0 1px 0 2px; border: 0; border-radius: 999px; cursor: pointer;
  background: #183868; color: #fff; font-size: .7rem; font-weight: 700; vertical-align: super;
  line-height: 1; }
.cite-marker:hover, .cite-marker:focus-visible { background: #2563eb; outline: none; }
#ask-row { align-items: stretch; }
#examples button { font-size: .85rem; }

/* source cards */
.sources { color: #1f2937; position: sticky; top: 8px; max-height: 86vh; overflow-y: auto;
  padding-right: 4px; }
.turn-sources { display: none; }
.turn-sources.active { display: block; }
.turn-sources h3 { margin: 2px 0 0; font-size: .8rem; letter-spacing: .08em; text-transform: uppercase;
  color: #64748b; }
.for-q { margin: 2px 0 10px; color: #334155; font-size: .9rem; font-style: italic; }
.not-answer { background: #fffbeb; border: 1px solid #fcd34d; color: #92400e; border-radius: 8px;
  padding: 8px 10px; font-size: .88rem; margin: 0 0 10px; }
.src-card { background: #fff; border: 1px solid #e2e8f0; border-radius: 10px; padding: 11px 13px;
  margin-bottom: 10px; transition: box-shadow .2s, border-color .2s; }
.src-card.flash { border-color: #2563eb; box-shadow: 0 0 0 3px rgba(37, 99, 235, .18); }
.src-card header { display: flex; gap: 9px; align-items: flex-start; }
.src-n { flex: none; display: inline-flex; align-items: center; justify-content: center; width: 1.55rem;
  height: 1.55rem; border-radius: 999px; background: #183868; color: #fff; font-size: .78rem;
  font-weight: 700; }
.src-card h4 { margin: 1px 0 0; font-size: .93rem; line-height: 1.35; font-weight: 600; color: #0f172a; }
.src-card h4 a { color: #183868; text-decoration: none; }
.src-card h4 a:hover { text-decoration: underline; }
.src-meta { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; margin: 6px 0 0 2.2rem;
  font-size: .8rem; color: #64748b; }
.doc-view .src-meta, .doc-view .src-links { margin-left: 0; }
.badge { display: inline-block; font-size: .68rem; font-weight: 700; letter-spacing: .04em;
  border-radius: 4px;
  padding: 1px 6px; background: #f1f5f9; color: #475569; }
.badge-eu { background: #dbeafe; color: #1d4ed8; }
.badge-us { background: #fee2e2; color: #b91c1c; }
.badge-cn { background: #ffedd5; color: #c2410c; }
.badge-uk { background: #ede9fe; color: #6d28d9; }
.badge-intl { background: #ccfbf1; color: #0f766e; }
.badge-gulf { background: #fef9c3; color: #a16207; }
.src-meta .as-of { font-weight: 600; color: #475569; }
.src-links { margin: 6px 0 0 2.2rem; font-size: .8rem; color: #475569; }
.src-links > span { font-size: .7rem; font-weight: 700; letter-spacing: .06em; text-transform: uppercase;
  color: #94a3b8; }
.src-links ul { margin: 2px 0 0; padding-left: 1.1rem; }
.src-links li { margin: 1px 0; line-height: 1.4; }
.src-links a { color: #2563eb; text-decoration: none; }
.src-links a:hover { text-decoration: underline; }
.quote { margin: 8px 0 0 2.2rem; padding: 6px 10px; border-left: 3px solid #f59e0b; background: #fffbeb;
  font-size: .86rem; line-height: 1.5; color: #1f2937; border-radius: 0 6px 6px 0; }
.passage { margin: 6px 0 0 2.2rem; font-size: .84rem; }
.passage summary { cursor: pointer; color: #2563eb; font-size: .8rem; user-select: none; }
.passage-text { margin-top: 6px; white-space: pre-line; line-height: 1.55; color: #334155;
  max-height: 320px;
  overflow-y: auto; background: #f8fafc; border-radius: 6px; padding: 8px 10px; }
.passage-text mark { background: #fde68a; color: inherit; padding: 0 1px; border-radius: 2px; }
.src-id { margin: 6px 0 0 2.2rem; font-size: .7rem; color: #94a3b8; font-family: ui-monospace, monospace; }

/* brief */
#brief-preview { overflow-x: auto; }
.brief-frame { display: block; width: 100%; min-width: 850px; height: 1175px; border: 0; border-radius: 10px;
  background: #e9ebee; }
.brief-empty { height: 560px; display: flex; align-items: center; justify-content: center; color: #64748b;
  background: #f1f5f9; border: 1px dashed #cbd5e1; border-radius: 10px; }
.brief-status { color: #475569; font-size: .9rem; margin: 4px 0; }

/* corpus */
#documents * { font-family: var(--font) !important; }
#corpus-head { align-items: center; }
#documents td { font-size: .88rem; }
.corpus-stats { font-size: .95rem; color: #334155; padding: 4px 0; }
.refresh-report { font-size: .88rem; background: #f8fafc; border: 1px solid #e2e8f0; border-radius: 8px;
  padding: 8px 12px; color: #1f2937; }
.refresh-report.error { background: #fef2f2; border-color: #fecaca; color: #991b1b; }
.doc-view { color: #1f2937; background: #fff; border: 1px solid #e2e8f0; border-radius: 10px;
  padding: 12px 16px; }
.doc-view h3 { margin: 0; font-size: 1.05rem; color: #0f172a; }
.doc-text { margin-top: 10px; max-height: 60vh; overflow-y: auto; font-size: .9rem;
  line-height: 1.6; font-family: Georgia, "DejaVu Serif", serif; }
.doc-md h1 { font-size: 1.15rem; margin: .2em 0 .5em; color: #0f172a; }
.doc-md h2 { font-size: 1.02rem; margin: 1.1em 0 .4em; color: #183868; }
.doc-md h3, .doc-md h4 { font-size: .95rem; margin: 1em 0 .3em; color: #183868; }
.doc-md p { margin: 0 0 .7em; }
.doc-md ul, .doc-md ol { margin: 0 0 .7em; padding-left: 1.4em; }
.doc-md li { margin: .15em 0; }
.doc-md blockquote { margin: 0 0 .7em; padding: 4px 10px; border-left: 3px solid #cbd5e1; color: #475569; }
.doc-md table { border-collapse: collapse; margin: 0 0 .8em; font-size: .85rem; }
.doc-md th, .doc-md td { border: 1px solid #e2e8f0; padding: 3px 7px; text-align: left; }
.doc-md code { font-size: .85em; background: #f1f5f9; border-radius: 3px; padding: 0 3px; }
.doc-md a { color: #2563eb; }
"""

JS = """
() => {
  new MutationObserver((records) => {
    if (!records.some((r) => r.target.closest && r.target.closest("#transcript"))) return;
    const box = document.querySelector("#transcript .transcript");
    if (box) box.scrollTop = box.scrollHeight;
  }).observe(document.body, { childList: true, subtree: true });
  document.addEventListener("click", (event) => {
    const marker = event.target.closest(".cite-marker");
    if (!marker) return;
    const turn = marker.dataset.turn;
    document.querySelectorAll(".turn-sources").forEach((group) => {
      group.classList.toggle("active", group.dataset.turn === turn);
    });
    document.querySelectorAll(".src-card.flash").forEach((c) => c.classList.remove("flash"));
    const card = document.getElementById(`src-${turn}-${marker.dataset.n}`);
    if (!card) return;
    const details = card.querySelector("details");
    if (details) details.open = true;
    card.classList.add("flash");
    card.scrollIntoView({ behavior: "smooth", block: "nearest" });
  });
}
"""
