// The job log as it is written: chunks arrive as Server-Sent Events
// ("log" events whose id is the byte offset after the chunk), are split
// into lines and rendered a slice per animation frame into the structure
// ansi.go renders on the server (lines as text ending in a newline, SGR
// colours as classes, GitLab's sections as <details>), so a log of
// 100,000 lines opens without freezing the page: plain lines cost one
// shared text node, not an element each.
"use strict";

(function () {
  var SECTION = /^(?:\x1b\[0K)?section_(start|end):(\d+):([A-Za-z0-9_.\-]+)(\[[^\]\r]*\])?\r(?:\x1b\[0K)?/;
  var FRAME_MS = 8;         // script time per frame before yielding
  var FRAME_LINES = 5000;   // lines per frame: style and layout of new lines come after the script
  var CHUNK_LINES = 1000;   // lines per content-visibility block

  function plain() { return { fg: -1, bg: -1, b: false, d: false, i: false, u: false }; }

  function classes(s) {
    var c = [];
    if (s.fg >= 0) c.push("fg" + s.fg);
    if (s.bg >= 0) c.push("bg" + s.bg);
    if (s.b) c.push("b");
    if (s.d) c.push("d");
    if (s.i) c.push("i");
    if (s.u) c.push("u");
    return c.join(" ");
  }

  function isPlain(s) { return s.fg < 0 && s.bg < 0 && !s.b && !s.d && !s.i && !s.u; }

  var PALETTE = [[0,0,0],[205,0,0],[0,205,0],[205,205,0],[0,0,238],[205,0,205],[0,205,205],[229,229,229],
    [127,127,127],[255,0,0],[0,255,0],[255,255,0],[92,92,255],[255,0,255],[0,255,255],[255,255,255]];
  function nearest(r, g, b) {
    var best = 0, bestD = Infinity;
    for (var i = 0; i < 16; i++) {
      var p = PALETTE[i], d = (p[0]-r)*(p[0]-r) + (p[1]-g)*(p[1]-g) + (p[2]-b)*(p[2]-b);
      if (d < bestD) { best = i; bestD = d; }
    }
    return best;
  }
  function clamp(n) { n = parseInt(n, 10) || 0; return Math.min(Math.max(n, 0), 255); }
  // extended reads 5;N or 2;R;G;B; returns [colour, parameters used].
  function extended(ps) {
    if (!ps.length) return [-1, 0];
    if (ps[0] === "5") {
      var n = clamp(ps[1]);
      if (n < 16) return [n, 2];
      if (n >= 232) { var g = Math.floor((n - 232) * 255 / 23); return [nearest(g, g, g), 2]; }
      n -= 16;
      var lv = [0, 95, 135, 175, 215, 255];
      return [nearest(lv[Math.floor(n / 36)], lv[Math.floor(n / 6) % 6], lv[n % 6]), 2];
    }
    if (ps[0] === "2") return [nearest(clamp(ps[1]), clamp(ps[2]), clamp(ps[3])), 4];
    return [-1, 1];
  }
  function apply(s, params) {
    if (params === "") { Object.assign(s, plain()); return; }
    var ps = params.replace(/:/g, ";").split(";");
    for (var i = 0; i < ps.length; i++) {
      var n = parseInt(ps[i], 10) || 0;
      if (n === 0) Object.assign(s, plain());
      else if (n === 1) s.b = true;
      else if (n === 2) s.d = true;
      else if (n === 3) s.i = true;
      else if (n === 4) s.u = true;
      else if (n === 22) { s.b = false; s.d = false; }
      else if (n === 23) s.i = false;
      else if (n === 24) s.u = false;
      else if (n >= 30 && n <= 37) s.fg = n - 30;
      else if (n >= 90 && n <= 97) s.fg = n - 90 + 8;
      else if (n === 39) s.fg = -1;
      else if (n >= 40 && n <= 47) s.bg = n - 40;
      else if (n >= 100 && n <= 107) s.bg = n - 100 + 8;
      else if (n === 49) s.bg = -1;
      else if (n === 38 || n === 48) {
        var r = extended(ps.slice(i + 1));
        i += r[1];
        if (n === 38) s.fg = r[0]; else s.bg = r[0];
      }
    }
  }

  // escEnd returns [index of the last byte, final byte, parameters].
  function escEnd(line, i) {
    if (i + 1 >= line.length) return [i, "", ""];
    var c = line[i + 1], j;
    if (c === "[") {
      for (j = i + 2; j < line.length; j++) {
        var code = line.charCodeAt(j);
        if (code >= 0x40 && code <= 0x7e) return [j, line[j], line.slice(i + 2, j)];
      }
      return [line.length - 1, "", ""];
    }
    if (c === "]") {
      for (j = i + 2; j < line.length; j++) {
        if (line[j] === "\x07") return [j, "", ""];
        if (line[j] === "\x1b" && line[j + 1] === "\\") return [j + 1, "", ""];
      }
      return [line.length - 1, "", ""];
    }
    return [i + 1, "", ""];
  }

  var SPECIAL = /[\x00-\x08\x0b-\x1f]/;

  // fill appends one line's text to el as spans, carrying the SGR state.
  function fill(el, line, st) {
    if (!SPECIAL.test(line)) {
      // Most lines have no escapes: one text node, no scanning.
      if (!line) return;
      var c0 = classes(st);
      if (!c0) { el.appendChild(document.createTextNode(line)); return; }
      var s0 = document.createElement("span");
      s0.className = c0; s0.textContent = line;
      el.appendChild(s0);
      return;
    }
    if (line.endsWith("\r")) line = line.slice(0, -1);
    var cr = line.lastIndexOf("\r");
    if (cr >= 0) line = line.slice(cr + 1);
    var run = "";
    function flush() {
      if (!run) return;
      var c = classes(st);
      if (c) {
        var sp = document.createElement("span");
        sp.className = c;
        sp.textContent = run;
        el.appendChild(sp);
      } else {
        el.appendChild(document.createTextNode(run));
      }
      run = "";
    }
    for (var i = 0; i < line.length; i++) {
      var ch = line[i];
      if (ch !== "\x1b") {
        var code = line.charCodeAt(i);
        if (code < 0x20 && ch !== "\t") continue;
        run += ch;
        continue;
      }
      var e = escEnd(line, i);
      if (e[1] === "m") { flush(); apply(st, e[2]); }
      i = e[0];
    }
    flush();
  }

  function stripEsc(s) { return s.replace(/\x1b(\[[\x20-\x3f]*[\x40-\x7e]?|\][^\x07]*\x07?|.)?/g, ""); }

  function hms(ts) { return new Date(ts * 1000).toISOString().slice(11, 19); }
  function secs(s) {
    s = Math.max(0, Math.round(s));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + String(s % 60).padStart(2, "0") + "s";
    return Math.floor(s / 3600) + "h " + String(Math.floor(s / 60) % 60).padStart(2, "0") + "m";
  }

  function View(el) {
    this.el = el;
    this.st = plain();
    this.stack = [];          // open sections: {name, ts, details, body, summary}
    this.queue = [];          // complete lines waiting to be rendered
    this.head = 0;            // next line of queue
    this.pending = "";        // the unfinished last line
    this.partialEl = null;
    this.root = { body: el, chunk: null, chunkLines: 0 };
    this.offset = 0;
    this.lines = 0;
    this.ended = false;
    this.raf = 0;
    this.follow = true;
    this.ownScroll = false;
  }

  View.prototype.push = function (text) {
    var parts = (this.pending + text).split("\n");
    this.pending = parts.pop();
    for (var i = 0; i < parts.length; i++) this.queue.push(parts[i]);
    this.schedule();
  };

  View.prototype.finish = function () {
    this.ended = true;
    if (this.pending) { this.queue.push(this.pending); this.pending = ""; }
    this.schedule();
  };

  View.prototype.schedule = function () {
    var self = this;
    if (!this.raf) this.raf = requestAnimationFrame(function () { self.raf = 0; self.drain(); });
  };

  // container is where the next line goes: a block of the open section's
  // body (or of the root) that layout may skip while it is off screen.
  // Every body is split so: a script section holds most of a log, and
  // one growing block would be laid out again at every frame.
  View.prototype.container = function () {
    var top = this.stack.length ? this.stack[this.stack.length - 1] : this.root;
    if (!top.chunk || top.chunkLines >= CHUNK_LINES) {
      top.chunk = document.createElement("div");
      top.chunk.className = "chunk";
      top.body.appendChild(top.chunk);
      top.chunkLines = 0;
    }
    top.chunkLines++;
    return top.chunk;
  };

  // A frame's output is batched per container: plain text accumulates in
  // a string (one text node for many lines), elements in a fragment.
  function batch() { return { parent: null, frag: document.createDocumentFragment(), text: "" }; }

  View.prototype.target = function (b) {
    var parent = this.container();
    if (b.parent !== parent) { this.flush(b); b.parent = parent; }
  };
  View.prototype.flush = function (b) {
    if (b.text) { b.frag.appendChild(document.createTextNode(b.text)); b.text = ""; }
    if (b.parent && b.frag.childNodes.length) b.parent.appendChild(b.frag);
    b.frag = document.createDocumentFragment();
    b.parent = null;
  };
  View.prototype.node = function (b, node) {
    if (b.text) { b.frag.appendChild(document.createTextNode(b.text)); b.text = ""; }
    b.frag.appendChild(node);
  };

  View.prototype.line = function (line, b) {
    var m = SECTION.exec(line);
    if (m) {
      var rest = line.slice(m[0].length);
      if (m[1] === "start") {
        var d = document.createElement("details");
        d.className = "sec";
        if (!(m[4] || "").includes("collapsed=true")) d.open = true;
        var sum = document.createElement("summary");
        fill(sum, rest, this.st);
        var t = document.createElement("span");
        t.className = "sec-t"; t.textContent = hms(Number(m[2]));
        sum.appendChild(t);
        var body = document.createElement("div");
        body.className = "sec-b";
        d.appendChild(sum); d.appendChild(body);
        this.target(b);
        this.node(b, d);
        this.flush(b);
        this.stack.push({ name: m[3], ts: Number(m[2]), summary: sum, body: body, chunk: null, chunkLines: 0 });
        return;
      }
      for (var i = this.stack.length - 1; i >= 0; i--) {
        if (this.stack[i].name === m[3]) {
          this.flush(b);
          var sec = this.stack[i];
          var dur = document.createElement("span");
          dur.className = "sec-d"; dur.textContent = secs(Number(m[2]) - sec.ts);
          sec.summary.insertBefore(dur, sec.summary.querySelector(".sec-t"));
          this.stack.length = i;
          break;
        }
      }
      if (stripEsc(rest).trim() === "") return;
      line = rest;
    }
    this.target(b);
    if (!SPECIAL.test(line) && isPlain(this.st)) {
      b.text += line + "\n";
    } else {
      var f = document.createDocumentFragment();
      fill(f, line, this.st);
      this.node(b, f);
      b.text += "\n";
    }
    this.lines++;
  };

  View.prototype.drain = function () {
    var wait = document.getElementById("log-wait");
    if (wait && (this.queue.length > this.head || this.pending || this.ended)) wait.remove();
    if (this.partialEl) { this.partialEl.remove(); this.partialEl = null; }
    var start = performance.now();
    var b = batch();
    var n = 0;
    while (this.head < this.queue.length) {
      this.line(this.queue[this.head++], b);
      if (++n >= FRAME_LINES || (n % 100 === 0 && performance.now() - start > FRAME_MS)) break;
    }
    this.flush(b);
    this.el.dataset.lines = this.lines;
    if (this.head >= this.queue.length) { this.queue = []; this.head = 0; }
    if (this.pending && !this.queue.length) {
      // Show the unfinished line, rendered with a copy of the state.
      var span = document.createElement("span");
      span.className = "partial";
      if (!SECTION.test(this.pending)) fill(span, this.pending, Object.assign({}, this.st));
      this.partialEl = span;
      var top = this.stack.length ? this.stack[this.stack.length - 1] : this.root;
      (top.chunk || top.body).appendChild(span);
    }
    if (this.queue.length) this.schedule();
    else if (this.ended) this.el.dataset.done = "1";
    if (this.ended && !this.queue.length && !this.lines) {
      var empty = document.createElement("div");
      empty.className = "muted"; empty.textContent = "(no log)";
      this.el.appendChild(empty);
    }
    if (this.follow) this.tail();
  };

  View.prototype.tail = function () {
    this.ownScroll = true;
    window.scrollTo(0, document.documentElement.scrollHeight);
    var self = this;
    requestAnimationFrame(function () { self.ownScroll = false; });
  };

  View.prototype.connect = function () {
    var self = this;
    var es = new EventSource(this.el.dataset.stream + "?offset=" + this.offset);
    es.addEventListener("log", function (e) {
      self.offset = Number(e.lastEventId) || self.offset;
      self.push(JSON.parse(e.data));
    });
    es.addEventListener("end", function () {
      es.close();
      self.finish();
      self.el.dataset.ended = "1";
      document.dispatchEvent(new CustomEvent("gantry:refresh"));
    });
    es.onerror = function () {
      // Reconnect from the byte we have (?offset= wins over Last-Event-ID).
      es.close();
      if (!self.ended) setTimeout(function () { self.connect(); }, 1500);
    };
  };

  window.GantryLog = {
    start: function (el) {
      var v = new View(el);
      el.gantryView = v;
      v.follow = el.dataset.follow === "1";
      var box = document.getElementById("follow");
      if (box) box.checked = v.follow;
      window.addEventListener("scroll", function () {
        if (v.ownScroll) return;
        var atEnd = window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 40;
        if (v.follow !== atEnd) { v.follow = atEnd; if (box) box.checked = atEnd; }
      }, { passive: true });
      if (box) {
        box.closest("label").hidden = false;
        box.addEventListener("change", function () { v.follow = box.checked; if (v.follow) v.tail(); });
      }
      v.connect();
    },
    controls: function (el) {
      var btn = document.getElementById("collapse-all");
      if (!btn) return;
      btn.hidden = false;
      btn.addEventListener("click", function () {
        var open = btn.dataset.state !== "closed";
        el.querySelectorAll("details.sec").forEach(function (d) { d.open = !open; });
        btn.dataset.state = open ? "closed" : "open";
        btn.textContent = open ? "Expand sections" : "Collapse sections";
      });
    }
  };
})();
