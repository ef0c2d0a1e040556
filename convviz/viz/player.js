// convviz's step player: paints a scene payload (convviz.viz.player.payload) as SVG and
// steps it in the browser. The same file runs inside the Streamlit app (a bidirectional
// component) and in the self-contained HTML export; it decides nothing about the picture:
// every position, colour, font size and text comes from the payload.
//
// mountPlayer(root, data, report) draws the player into `root` and returns
// {show(k), step(), destroy()}. `report(name, value)` (or null) is called with
// ("step", s) once stepping settles or play is paused, and ("speed", name) when the speed
// changes: that is how the step reaches Python; stepping itself sends nothing.
function mountPlayer(root, data, report) {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var cell = data.cell, frames = data.frames, n = frames.length;
  var at = Math.max(0, frames.indexOf(data.start)), playing = false, timer = null;
  var speed = data.speed, settle = null, lastReported = data.start;
  var destroyed = false;

  function esc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;");
  }
  function px(x) { return data.left + (x + 0.5) * cell; }
  function py(y) { return data.top + (y + 0.5) * cell; }
  function rect(x0, y0, x1, y1, attrs) {  // canvas cells x0..x1, y0..y1 inclusive
    return "<rect x='" + (px(x0) - cell / 2) + "' y='" + (py(y0) - cell / 2) + "' width='" +
      ((x1 - x0 + 1) * cell) + "' height='" + ((y1 - y0 + 1) * cell) + "' " + attrs + "/>";
  }
  function text(x, y, s, size, color, anchor, extra) {
    return "<text x='" + x + "' y='" + y + "' font-size='" + size + "' fill='" + color +
      "' text-anchor='" + (anchor || "middle") + "' dominant-baseline='central'" +
      (extra || "") + ">" + esc(s) + "</text>";
  }
  function dash(d) { return d ? " stroke-dasharray='6 4'" : ""; }

  // ------------------------------------------------------------------ the page parts
  root.classList.add("convviz-player");
  root.style.fontFamily = data.font;
  if (data.presenter) root.classList.add("convviz-presenter");
  var speeds = Object.keys(data.speeds).map(function (k) {
    return "<option value='" + k + "'" + (k === speed ? " selected" : "") + ">" + k +
      "</option>";
  }).join("");
  root.innerHTML =
    "<div class='cv-bar' role='toolbar' aria-label='step controls'>" +
    "<button class='cv-first' title='first step (Home)' aria-label='first step'>|◀</button>" +
    "<button class='cv-prev' title='previous step (←)' aria-label='previous step'>◀</button>" +
    "<button class='cv-play' title='play or pause (space)'>▶ play</button>" +
    "<button class='cv-next' title='next step (→)' aria-label='next step'>▶</button>" +
    "<button class='cv-last' title='last step (End)' aria-label='last step'>▶|</button>" +
    "<input class='cv-scrub' type='range' min='0' max='" + (n - 1) + "' step='1' value='" +
    at + "' aria-label='step'" + (n < 2 ? " disabled" : "") + ">" +
    "<b class='cv-step' aria-live='polite'></b>" +
    "<label class='cv-speed'>speed <select>" + speeds + "</select></label></div>" +
    "<div class='cv-info' aria-live='polite'></div>" +
    "<div class='cv-figure'></div>" +
    (data.explain ? "<div class='cv-explain'></div>" : "") +
    "<p class='cv-help'>" + esc(data.help) + "</p>";
  var q = function (sel) { return root.querySelector(sel); };
  var info = q(".cv-info"), stepText = q(".cv-step"), scrub = q(".cv-scrub");
  var playBtn = q(".cv-play"), box = q(".cv-figure"), explain = q(".cv-explain");
  info.style.fontFamily = data.mono;

  // ------------------------------------------------------------------ static picture
  var f = data.fonts, s = [];
  var W = data.width, H = data.height;
  s.push("<svg xmlns='" + SVG + "' viewBox='0 0 " + W + " " + H + "' width='" + W +
    "' height='" + H + "' font-family='" + data.font + "' class='cv-svg'>");
  s.push("<rect width='" + W + "' height='" + H + "' fill='white'/>");
  data.heading.forEach(function (h) {
    s.push(text(10, h[0], h[1], h[2], data.colors.text, "start"));
  });
  data.legend.forEach(function (e) {  // [x, y, fill, edge, width, dash, label]
    var sw = f.legend;
    s.push("<rect x='" + e[0] + "' y='" + (e[1] - sw / 2) + "' width='" + sw * 1.4 +
      "' height='" + sw + "' fill='" + (e[2] || "none") + "' stroke='" + e[3] +
      "' stroke-width='" + e[4] + "'" + dash(e[5]) + "/>");
    s.push(text(e[0] + sw * 1.9, e[1], e[6], f.legend, data.colors.text, "start"));
  });
  var c = data.cells, ncell = c.x.length;
  s.push("<g class='cv-cells' stroke='white' stroke-width='1'>");
  for (var i = 0; i < ncell; i++) {
    s.push(rect(c.x[i], c.y[i], c.x[i], c.y[i], "fill='" + data.palette[c.f[i]] +
      "' data-i='" + i + "'"));
  }
  s.push("</g><g class='cv-values' pointer-events='none'>");
  for (i = 0; i < ncell; i++) {
    if (c.t[i]) s.push(text(px(c.x[i]), py(c.y[i]), c.t[i], f.value, data.colors.text));
  }
  s.push("</g><g pointer-events='none'>");
  data.labels.forEach(function (l) {  // [x, y, text, kind, anchor]
    var title = l[3] === "title";
    s.push(text(px(l[0]), py(l[1]), l[2], title ? f.title : f.tick,
      title ? data.colors.text : data.colors.tick,
      title ? "start" : {left: "start", center: "middle", right: "end"}[l[4]]));
  });
  data.outlines.forEach(function (o) {  // [x0, y0, x1, y1, edge, width, dash]
    s.push(rect(o[0], o[1], o[2], o[3], "fill='none' stroke='" + o[4] + "' stroke-width='" +
      o[5] + "'" + dash(o[6])));
  });
  s.push("</g><g class='cv-dynamic' pointer-events='none'></g>" +
    "<g class='cv-light' pointer-events='none'></g></svg>");
  box.innerHTML = s.join("");
  var svg = box.querySelector("svg"), dyn = box.querySelector(".cv-dynamic");
  var light = box.querySelector(".cv-light");

  // The dynamic labels come as changes from frame to frame (dx); rebuild each frame's own.
  (function () {
    var state = {};
    data.steps_data.forEach(function (fr) {
      if (fr.x) return;  // a frame that carries its labels (not part of the chain)
      for (var j = 0; j < fr.dx[0].length; j++) {
        var key = fr.dx[0][j] + "," + fr.dx[1][j];
        if (fr.dx[2][j]) state[key] = [fr.dx[0][j], fr.dx[1][j], fr.dx[2][j]];
        else delete state[key];
      }
      var xs = [], ys = [], ts = [];
      for (var k in state) { xs.push(state[k][0]); ys.push(state[k][1]); ts.push(state[k][2]); }
      fr.x = [xs, ys, ts];
    });
  })();

  // ------------------------------------------------------------------ one frame
  function paint(k) {
    var fr = data.steps_data[k], out = [];
    fr.t.forEach(function (b) {
      out.push(rect(b[0], b[1], b[2], b[3], "fill='" + data.colors.tint + "'"));
    });
    fr.c.forEach(function (b) {
      out.push(rect(b[0], b[1], b[2], b[3], "fill='" + data.colors.cover + "'"));
    });
    data.roles.forEach(function (role) {
      var xy = fr.b[role], st = data.boxes[role];
      if (!xy) return;
      var inset = st.inset * cell, size = cell - 2 * inset;
      for (var j = 0; j < xy[0].length; j++) {
        out.push("<rect x='" + (px(xy[0][j]) - size / 2) + "' y='" + (py(xy[1][j]) - size / 2) +
          "' width='" + size + "' height='" + size + "' fill='" + (st.fill || "none") +
          "' stroke='" + st.edge + "' stroke-width='" + st.width + "'" + dash(st.dash) + "/>");
      }
    });
    var small = data.text_kind === "tap";
    for (var j = 0; j < fr.x[0].length; j++) {
      if (fr.x[2][j]) {
        out.push(text(px(fr.x[0][j]), py(fr.x[1][j]), fr.x[2][j], small ? f.tap : f.value,
          small ? data.colors.tap : data.colors.text));
      }
    }
    fr.l.forEach(function (line, k2) {
      out.push(text(10, data.lines_y0 + k2 * data.line_px, line, f.line, "#111111", "start",
        " font-family='" + data.mono + "' xml:space='preserve'"));
    });
    dyn.innerHTML = out.join("");
    if (explain) {
      var rows = ["<table><thead><tr>" + data.columns.map(function (h) {
        return "<th>" + esc(h) + "</th>";
      }).join("") + "</tr></thead><tbody>"];
      fr.e.forEach(function (r) {
        var stage = data.texts[r[0]];
        var cls = stage === "= output" ? " class='cv-total'" : (stage === "subtotal" ||
          stage === "bias" ? " class='cv-sub'" : "");
        rows.push("<tr" + cls + ">" + r.map(function (v) {
          return "<td>" + esc(data.texts[v]) + "</td>";
        }).join("") + "</tr>");
      });
      explain.innerHTML = "<div class='cv-caption'>" + esc(fr.caption) + "</div>" +
        (fr.e.length ? rows.join("") + "</tbody></table>" : "");
    }
  }

  function show(k) {
    at = Math.max(0, Math.min(n - 1, k));
    paint(at);
    scrub.value = at;
    stepText.textContent = data.labels_step[at];
    root.setAttribute("data-step", frames[at]);
    q(".cv-first").disabled = q(".cv-prev").disabled = at === 0;
    q(".cv-last").disabled = q(".cv-next").disabled = at === n - 1;
  }

  // ------------------------------------------------------------------ the step reaches Python
  // While playing or settling, the page's server-side step displays (the PNG button, the
  // 3-D view) are dimmed: they show the step once it has been reported.
  function stale(on) {
    if (report) document.body.setAttribute("data-convviz-stale", on ? "1" : "0");
  }
  function setPlaying(on) {
    playing = on;
    playBtn.textContent = on ? "❚❚ pause" : "▶ play";
    root.setAttribute("data-playing", on ? "1" : "0");
    stale(on);
  }
  function settled() {  // after stepping stops (or on pause) the step reaches Python once
    if (settle) clearTimeout(settle);
    stale(true);  // the page's other step displays wait for the report
    settle = setTimeout(function () {
      settle = null;
      if (destroyed || playing) return;
      stale(false);
      if (report && frames[at] !== lastReported) {
        lastReported = frames[at];
        report("step", frames[at]);
      }
    }, data.settle_ms);
  }
  function go(k) { stop(); show(k); settled(); }
  function tick() {
    if (at >= n - 1) { stop(); settled(); return; }
    show(at + 1);
  }
  function play() {
    if (playing || n < 2) return;
    if (settle) { clearTimeout(settle); settle = null; }
    if (at >= n - 1) show(0);
    setPlaying(true);
    timer = setInterval(tick, data.speeds[speed]);
  }
  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
    if (playing) { setPlaying(false); }
  }
  function toggle() { if (playing) { stop(); settled(); } else { play(); } }

  q(".cv-first").onclick = function () { go(0); };
  q(".cv-prev").onclick = function () { go(at - 1); };
  q(".cv-next").onclick = function () { go(at + 1); };
  q(".cv-last").onclick = function () { go(n - 1); };
  playBtn.onclick = toggle;
  scrub.oninput = function () { go(+scrub.value); };
  q(".cv-speed select").onchange = function (e) {
    speed = e.target.value;
    if (playing) { clearInterval(timer); timer = setInterval(tick, data.speeds[speed]); }
    if (report) report("speed", speed);
  };

  // Keyboard: ←/→ step, space plays/pauses, Home/End jump; not while typing into another
  // control (a sidebar slider keeps its own arrow keys).
  // With several players on a page, the keys go to the one last pointed at or focused
  // (the first on the page until then).
  function claim() { window.__convvizActive = root; }
  root.addEventListener("pointerenter", claim);
  root.addEventListener("focusin", claim);
  function mine() {
    var active = window.__convvizActive;
    if (active && document.body.contains(active)) return active === root;
    return document.querySelector(".convviz-player") === root;
  }
  function onKey(e) {
    var t = e.target;
    if (e.altKey || e.ctrlKey || e.metaKey || !mine()) return;
    if (t && t !== document.body && !root.contains(t) && (
        /^(INPUT|TEXTAREA|SELECT|BUTTON|A)$/.test(t.tagName) || t.isContentEditable ||
        (t.getAttribute && /^(slider|combobox|textbox|spinbutton|listbox|option|button|tab|link)$/
          .test(t.getAttribute("role") || "")))) return;
    if (t && root.contains(t) && t.tagName === "SELECT") return;
    var k = e.key;
    if (k === "ArrowRight") go(at + 1);
    else if (k === "ArrowLeft") go(at - 1);
    else if (k === "Home") go(0);
    else if (k === "End") go(n - 1);
    else if (k === " " || k === "Spacebar") toggle();
    else return;
    e.preventDefault();
    e.stopPropagation();
  }
  document.addEventListener("keydown", onKey, true);

  // ------------------------------------------------------------------ hover linking
  var links = {};
  data.links.forEach(function (pair) {
    pair[0].forEach(function (a) {
      pair[1].forEach(function (b) {
        (links[a] = links[a] || {})[b] = 1;
        (links[b] = links[b] || {})[a] = 1;
      });
    });
  });
  var hovered = -1;
  function hover(i) {
    if (i === hovered) return;
    hovered = i;
    if (i < 0) { light.innerHTML = ""; info.textContent = data.info_idle; return; }
    var out = [], lk = Object.keys(links[i] || {});
    lk.forEach(function (j) {
      j = +j;
      out.push(rect(c.x[j], c.y[j], c.x[j], c.y[j], "class='cv-linked' fill='" +
        data.colors.link + "' stroke='" + data.colors.link_edge + "' stroke-width='2'"));
    });
    out.push(rect(c.x[i], c.y[i], c.x[i], c.y[i], "class='cv-hovered' fill='none' stroke='" +
      data.colors.link_edge + "' stroke-width='3'"));
    light.innerHTML = out.join("");
    root.setAttribute("data-linked", lk.length);
    info.textContent = c.h[i] + (lk.length ? "  ·  " + lk.length + " linked cells lit" : "");
  }
  function cellOf(e) {
    var t = e.target;
    return t && t.getAttribute && t.getAttribute("data-i") !== null ? +t.getAttribute("data-i")
      : -1;
  }
  svg.addEventListener("mouseover", function (e) { hover(cellOf(e)); });
  svg.addEventListener("mouseleave", function () { hover(-1); });
  svg.addEventListener("pointerdown", function (e) {  // a tap on a touch screen
    if (e.pointerType !== "mouse") hover(cellOf(e));
  });

  // ------------------------------------------------------------------ fitting the screen
  // Presenter mode scales the picture to the height left under it (a projector must show
  // the figure, its controls and the arithmetic without scrolling); otherwise the picture
  // keeps its size and shrinks only to the width available.
  function fit() {
    if (!data.presenter) { svg.style.maxWidth = "100%"; svg.style.height = "auto"; return; }
    var top = box.getBoundingClientRect().top;
    var below = (explain ? explain.offsetHeight : 0) + q(".cv-help").offsetHeight + 16;
    var room = Math.max(200, window.innerHeight - top - below);
    var width = Math.min(root.clientWidth || W, W * room / H);
    svg.style.width = width + "px";
    svg.style.height = (width * H / W) + "px";
    svg.style.maxWidth = "none";
  }
  window.addEventListener("resize", fit);
  var watch = window.ResizeObserver ? new ResizeObserver(function () { fit(); }) : null;
  if (watch && data.presenter) watch.observe(root);  // e.g. the sidebar folding away
  info.textContent = data.info_idle;
  show(at);
  fit();
  if (data.presenter) setTimeout(fit, 300);  // after the page around it has settled
  setPlaying(false);

  return {
    show: function (k) { go(frames.indexOf(k) >= 0 ? frames.indexOf(k) : k); },
    step: function () { return frames[at]; },
    destroy: function () {
      destroyed = true;
      stop();
      if (settle) clearTimeout(settle);
      document.removeEventListener("keydown", onKey, true);
      window.removeEventListener("resize", fit);
      if (watch) watch.disconnect();
      stale(false);
      root.innerHTML = "";
    },
  };
}
