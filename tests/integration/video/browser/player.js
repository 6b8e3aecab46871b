// Plays ?src= with ?player=hls|dash, asks for a rendition switch once playback runs, and
// records what happened in window.result (read by play.mjs).
(function () {
  const q = new URLSearchParams(location.search);
  const video = document.getElementById("v");
  const r = window.result = {
    player: q.get("player"), started: false, ended: false, errors: [], switchAsked: null,
    switchedTo: null, levels: [], currentTime: 0, duration: null, log: [],
  };
  const codecs = ["avc1.640028", "avc1.4d401f", "avc1.42e01e", "mp4a.40.2", "mp4a.40.5", "ac-3", "ec-3",
                  "opus", "vp09.00.10.08", "av01.0.04M.08", "hvc1.1.6.L93.B0", "hev1.1.6.L93.B0", "flac"];
  r.codecSupport = {};
  for (const c of codecs) {
    const kind = /^(mp4a|ac-3|ec-3|opus|flac)/.test(c) ? "audio" : "video";
    r.codecSupport[c] = MediaSource.isTypeSupported(`${kind}/mp4; codecs="${c}"`);
  }
  video.addEventListener("playing", () => { r.started = true; });
  video.addEventListener("timeupdate", () => { r.currentTime = video.currentTime; });
  for (const ev of ["waiting", "stalled", "seeking", "seeked", "durationchange"]) {
    video.addEventListener(ev, () => r.log.push(`${ev} at ${video.currentTime.toFixed(3)} of ${video.duration}`));
  }
  r.buffered = () => [];
  setInterval(() => {
    const b = video.buffered, out = [];
    for (let i = 0; i < b.length; i++) out.push([+b.start(i).toFixed(3), +b.end(i).toFixed(3)]);
    r.bufferedRanges = out;
    r.readyState = video.readyState;
    r.paused = video.paused;
  }, 200);
  video.addEventListener("ended", () => { r.ended = true; r.currentTime = video.currentTime; r.duration = video.duration; });
  video.addEventListener("error", () => { r.errors.push("video element: " + (video.error && video.error.message)); });
  const wantSwitch = q.get("switch") !== "0";

  function whenStarted(fn) {
    const check = () => (video.currentTime > 0.3 ? fn() : setTimeout(check, 50));
    check();
  }

  if (r.player === "hls") {
    if (!Hls.isSupported()) { r.errors.push("hls.js: MSE not supported"); return; }
    const hls = new Hls({ capLevelToPlayerSize: false, startLevel: 0, debug: false });
    hls.on(Hls.Events.ERROR, (_, d) => { if (d.fatal || d.type === Hls.ErrorTypes.MEDIA_ERROR) r.errors.push(`hls.js ${d.type} ${d.details} fatal=${d.fatal}`); });
    hls.on(Hls.Events.MANIFEST_PARSED, (_, d) => {
      r.levels = hls.levels.map(l => ({ width: l.width, height: l.height, bitrate: l.bitrate, codecs: l.codecSet || `${l.videoCodec},${l.audioCodec}` }));
      r.iframeLevels = (d.levelsIframe || hls.iframeLevels || []).length;
      video.play().catch(e => r.errors.push("play(): " + e));
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_, d) => { r.log.push("level " + d.level); if (r.switchAsked !== null && d.level === r.switchAsked) r.switchedTo = d.level; });
    hls.on(Hls.Events.FRAG_CHANGED, (_, d) => { r.log.push(`frag ${d.frag.level}/${d.frag.sn}`); if (r.switchAsked !== null && d.frag.level === r.switchAsked) r.switchRendered = true; });
    hls.loadSource(q.get("src"));
    hls.attachMedia(video);
    if (wantSwitch) whenStarted(() => { r.switchAsked = hls.levels.length - 1 === hls.currentLevel ? 0 : hls.levels.length - 1; hls.currentLevel = r.switchAsked; });
  } else {
    const player = dashjs.MediaPlayer().create();
    player.updateSettings({ debug: { logLevel: 1 }, streaming: { abr: { autoSwitchBitrate: { video: false } } } });
    player.on(dashjs.MediaPlayer.events.ERROR, e => r.errors.push("dash.js " + JSON.stringify(e.error || e).slice(0, 300)));
    player.on(dashjs.MediaPlayer.events.PLAYBACK_ERROR, e => r.errors.push("dash.js playback " + JSON.stringify(e.error || e).slice(0, 300)));
    player.on(dashjs.MediaPlayer.events.STREAM_INITIALIZED, () => {
      r.levels = player.getRepresentationsByType("video").map(l => ({ id: l.id, width: l.width, height: l.height, bitrate: l.bandwidth, codecs: l.codecs }));
    });
    player.on(dashjs.MediaPlayer.events.QUALITY_CHANGE_RENDERED, e => {
      const id = e.newRepresentation && e.newRepresentation.id;
      r.log.push(`${e.mediaType} rendered ${id}`);
      if (e.mediaType === "video" && r.switchAsked !== null && id === r.switchAsked) { r.switchedTo = id; r.switchRendered = true; }
    });
    player.initialize(video, q.get("src"), true);
    if (wantSwitch) whenStarted(() => {
      const reps = player.getRepresentationsByType("video");
      const cur = player.getCurrentRepresentationForType("video");
      const target = reps.find(x => x.id !== (cur && cur.id));
      r.switchAsked = target.id;
      player.setRepresentationForTypeById("video", target.id, true);
    });
  }
})();
