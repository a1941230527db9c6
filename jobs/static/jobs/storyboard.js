/* Thumbnails while scrubbing: a seek bar under a <video> that shows the storyboard tile of
   the time under the pointer, read from a WebVTT thumbnails track ("sprite.jpg#xywh=x,y,w,h"). */
(function () {
  "use strict";

  function seconds(stamp) {
    const parts = stamp.trim().split(":").map(parseFloat);
    return parts.reduce(function (total, part) { return total * 60 + part; }, 0);
  }

  function parseTrack(text, base) {
    const cues = [];
    text.replace(/\r/g, "").split("\n\n").forEach(function (block) {
      const lines = block.split("\n").filter(Boolean);
      const timing = lines.findIndex(function (line) { return line.includes("-->"); });
      if (timing < 0 || !lines[timing + 1]) return;
      const ends = lines[timing].split("-->");
      const target = lines[timing + 1].trim();
      const hash = target.indexOf("#xywh=");
      if (hash < 0) return;
      const box = target.slice(hash + 6).split(",").map(Number);
      cues.push({start: seconds(ends[0]), end: seconds(ends[1].trim().split(/\s+/)[0]),
                 url: new URL(target.slice(0, hash), base).href, x: box[0], y: box[1], w: box[2], h: box[3]});
    });
    return cues;
  }

  function attach(video, trackUrl) {
    const bar = document.createElement("input");
    bar.type = "range"; bar.min = 0; bar.step = 0.1; bar.value = 0;
    bar.className = "scrub"; bar.setAttribute("aria-label", "Seek");
    bar.style.width = "100%";
    const tip = document.createElement("div");
    tip.className = "scrub-thumb";
    tip.style.cssText = "position:absolute; bottom:2.2rem; display:none; border:2px solid #fff; box-shadow:0 2px 8px rgba(0,0,0,.4); background-repeat:no-repeat; pointer-events:none;";
    const wrap = document.createElement("div");
    wrap.style.position = "relative";
    video.after(wrap);
    wrap.append(bar, tip);
    video.addEventListener("loadedmetadata", function () { bar.max = video.duration; });
    video.addEventListener("timeupdate", function () { if (!bar.matches(":active")) bar.value = video.currentTime; });
    bar.addEventListener("input", function () { video.currentTime = parseFloat(bar.value); });
    fetch(trackUrl, {credentials: "same-origin"}).then(function (r) { return r.ok ? r.text() : ""; }).then(function (text) {
      const cues = parseTrack(text, new URL(trackUrl, window.location.href));
      if (!cues.length) return;
      bar.dataset.thumbnails = cues.length;
      function show(event) {
        const rect = bar.getBoundingClientRect();
        const fraction = Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
        const time = fraction * (video.duration || cues[cues.length - 1].end);
        const cue = cues.find(function (c) { return time >= c.start && time < c.end; }) || cues[cues.length - 1];
        tip.style.width = cue.w + "px"; tip.style.height = cue.h + "px";
        tip.style.backgroundImage = "url('" + cue.url + "')";
        tip.style.backgroundPosition = (-cue.x) + "px " + (-cue.y) + "px";
        tip.style.left = Math.min(rect.width - cue.w, Math.max(0, fraction * rect.width - cue.w / 2)) + "px";
        tip.style.display = "block";
        tip.dataset.time = time.toFixed(1);
      }
      bar.addEventListener("pointermove", show);
      bar.addEventListener("pointerleave", function () { tip.style.display = "none"; });
    });
  }

  window.slidecastStoryboard = {attach: attach, parseTrack: parseTrack};
})();
