/* hunthub graph view: draws a graph laid out by the kernel with plain WebGL, no library and no network access
   beyond the Jupyter server that served the page.

   One draw call for all edges (gl.LINES over the node positions, indexed by the edge pairs), one for all nodes
   (gl.POINTS with round sprites). Hover and click look nodes up in a uniform grid, so a pointer move costs the
   same for 100 nodes as for a million. Frames are drawn only when something changed.

   Big graphs on slow (software) WebGL: one full frame can take a second. The first frame is timed, and then
   - while the view moves, each frame draws only as many edges (a random sample) and nodes (the most connected)
     as fit in MOVING_FRAME_MS;
   - once it rests, the full picture is drawn piece by piece into an offscreen buffer, one frame's budget at a
     time, and shown when complete: no frame ever blocks the page for long, and moving again stops it at once. */
(function () {
  "use strict";
  var VERSION = "1";
  if (window.HunthubGraph && window.HunthubGraph.version === VERSION) return;

  var BACKGROUND = [0.984, 0.984, 0.992];
  var PICK_SLACK = 3; // CSS pixels around a node that still count as pointing at it
  var MOVING_FRAME_MS = 30; // what a frame may cost while the view moves
  var REFINE_STEP = 2; // a refining frame may cost twice that: the view rests, a new move waits one such frame
  var NODE_SHARE = 0.4; // of a moving frame's time, for nodes (the most connected first); the rest for edges
  var REST_AFTER_MS = 180;
  var CALIBRATE_WITH = 50000; // edges and nodes timed on the first frame; the rest is extrapolated

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function serverBase() {
    var config = document.getElementById("jupyter-config-data");
    if (config) {
      try {
        var data = JSON.parse(config.textContent);
        if (data.baseUrl) return { base: data.baseUrl, token: data.token || "" };
      } catch (e) { /* fall through to the classic notebook's attribute */ }
    }
    return { base: document.body.getAttribute("data-base-url") || "/", token: "" };
  }

  function decode(b64) {
    var s = atob(b64), bytes = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
    return bytes.buffer;
  }

  function hexColor(hex) {
    var v = parseInt(hex.slice(1), 16);
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  }

  function shuffle(n, seed) {
    var order = new Uint32Array(n), i;
    for (i = 0; i < n; i++) order[i] = i;
    for (i = n - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      var j = seed % (i + 1), t = order[i];
      order[i] = order[j]; order[j] = t;
    }
    return order;
  }

  /* Node indexes by rising degree (random among equals, so no type or input order shows through): hubs are drawn
     last, on top, and drawing only the last k draws the k most connected nodes. */
  function drawOrder(degree, n) {
    var order = shuffle(n, 12345), start = new Uint32Array(65), out = new Uint32Array(n), i;
    var bucket = function (k) { return Math.min(63, Math.floor(4 * Math.log2(1 + degree[k]))); };
    for (i = 0; i < n; i++) start[bucket(i) + 1]++;
    for (i = 0; i < 64; i++) start[i + 1] += start[i];
    for (i = 0; i < n; i++) out[start[bucket(order[i])]++] = order[i];
    return out;
  }

  /* The edge pairs in random order: any prefix is a fair sample. (The kernel sends them sorted, which draws
     faster in full: consecutive lines share vertices.) */
  function sampleOrder(edges) {
    var m = edges.length / 2, order = shuffle(m, 54321), out = new Uint32Array(edges.length);
    for (var i = 0; i < m; i++) { out[2 * i] = edges[2 * order[i]]; out[2 * i + 1] = edges[2 * order[i] + 1]; }
    return out;
  }

  /* Where the arrays and node chunks come from: the output itself, or the server extension. */
  function Source(spec) {
    this.spec = spec;
    this.chunks = {};
    if (spec.mode !== "inline") {
      var server = serverBase();
      this.prefix = server.base.replace(/\/?$/, "/") + "hunthub/graphs/" + spec.id + "/";
      this.headers = server.token ? { Authorization: "token " + server.token } : {};
      // The server refuses cross-site GETs (as for /files/): the XSRF cookie, echoed, proves we are its own page.
      var xsrf = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
      if (xsrf) this.headers["X-XSRFToken"] = decodeURIComponent(xsrf[1]);
    }
  }
  Source.prototype.fetch = function (part, json) {
    return fetch(this.prefix + part, { credentials: "same-origin", headers: this.headers }).then(function (r) {
      if (r.ok) return json ? r.json() : r.arrayBuffer();
      var why = r.status === 404
        ? "the graph data is gone (removed after some days) or the hunthub graph server extension is not " +
          "enabled: run the cell again"
        : "the Jupyter server answered " + r.status + " " + r.statusText;
      throw new Error("Cannot load " + part + ": " + why + ".");
    });
  };
  Source.prototype.arrays = function () {
    var parts = ["pos.f32", "edges.u32", "types.u8", "degree.u32"], data = this.spec.data, self = this;
    var load = data
      ? Promise.resolve(parts.map(function (p) { return decode(data[p]); }))
      : Promise.all(parts.map(function (p) { return self.fetch(p, false); }));
    return load.then(function (b) {
      return { pos: new Float32Array(b[0]), edges: new Uint32Array(b[1]), types: new Uint8Array(b[2]),
        degree: new Uint32Array(b[3]) };
    });
  };
  Source.prototype.chunk = function (k) {
    if (!this.chunks[k]) {
      var inline = this.spec.chunks;
      this.chunks[k] = inline ? Promise.resolve(inline[k]) : this.fetch("nodes-" + k + ".json", true);
    }
    return this.chunks[k];
  };

  /* Nodes bucketed by a uniform grid over the layout: a lookup visits only the cells near the pointer. */
  function Grid(pos, n) {
    var minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity, i;
    for (i = 0; i < n; i++) {
      var x = pos[2 * i], y = pos[2 * i + 1];
      if (x < minX) minX = x; if (x > maxX) maxX = x;
      if (y < minY) minY = y; if (y > maxY) maxY = y;
    }
    if (!n) { minX = minY = 0; maxX = maxY = 1; }
    var side = Math.max(1, Math.ceil(Math.sqrt(n / 2)));
    var cell = Math.max(maxX - minX, maxY - minY, 1e-9) / side * (1 + 1e-6);
    var start = new Uint32Array(side * side + 1), items = new Uint32Array(n), at = new Uint32Array(n);
    for (i = 0; i < n; i++) {
      at[i] = Math.floor((pos[2 * i] - minX) / cell) * side + Math.floor((pos[2 * i + 1] - minY) / cell);
      start[at[i] + 1]++;
    }
    for (i = 0; i < side * side; i++) start[i + 1] += start[i];
    var fill = start.slice(0, side * side);
    for (i = 0; i < n; i++) items[fill[at[i]]++] = i;
    this.bounds = [minX, minY, maxX, maxY];
    this.side = side; this.cell = cell; this.start = start; this.items = items;
  }
  /* The node nearest to (x, y) whose disc contains it; reach bounds every radius(i), all in layout units. */
  Grid.prototype.nearest = function (pos, x, y, reach, radius) {
    var s = this.side, c = this.cell, b = this.bounds;
    var x0 = Math.max(0, Math.floor((x - reach - b[0]) / c)), x1 = Math.min(s - 1, Math.floor((x + reach - b[0]) / c));
    var y0 = Math.max(0, Math.floor((y - reach - b[1]) / c)), y1 = Math.min(s - 1, Math.floor((y + reach - b[1]) / c));
    if ((x1 - x0 + 1) * (y1 - y0 + 1) > 40000) return -1; // zoomed far out: nodes are specks, nothing to point at
    var best = -1, bestD = Infinity;
    for (var gx = x0; gx <= x1; gx++) {
      for (var gy = y0; gy <= y1; gy++) {
        var k = gx * s + gy;
        for (var j = this.start[k]; j < this.start[k + 1]; j++) {
          var i = this.items[j], dx = pos[2 * i] - x, dy = pos[2 * i + 1] - y, d = dx * dx + dy * dy, r = radius(i);
          if (d <= r * r && d < bestD) { best = i; bestD = d; }
        }
      }
    }
    return best;
  };

  var VS = [
    "attribute vec2 a_pos; attribute vec4 a_color; attribute float a_size;",
    "uniform vec2 u_center; uniform vec2 u_scale; uniform float u_point; uniform float u_grow;",
    "varying vec4 v_color;",
    "void main() {",
    "  vec2 p = (a_pos - u_center) * u_scale;",
    "  gl_Position = vec4(p.x, -p.y, 0.0, 1.0);",
    "  gl_PointSize = a_size * u_point + u_grow;",
    "  v_color = a_color;",
    "}"].join("\n");
  var FS_NODE = [
    "precision mediump float; varying vec4 v_color; uniform vec4 u_ring;",
    "void main() {",
    "  vec2 d = gl_PointCoord - vec2(0.5); float r = dot(d, d);",
    "  if (r > 0.25) discard;",
    "  if (u_ring.a > 0.0) { if (r < 0.12) discard; gl_FragColor = u_ring; return; }",
    "  gl_FragColor = r < 0.15 ? v_color : vec4(v_color.rgb * 0.55, 1.0);",
    "}"].join("\n");
  var FS_EDGE = [
    "precision mediump float; varying vec4 v_color; uniform vec4 u_tint; uniform float u_alpha;",
    "void main() { gl_FragColor = vec4(mix(v_color.rgb, u_tint.rgb, u_tint.a), u_alpha); }"].join("\n");
  var VS_COPY = "attribute vec2 a_pos; varying vec2 v_uv; " +
    "void main() { v_uv = a_pos * 0.5 + 0.5; gl_Position = vec4(a_pos, 0.0, 1.0); }";
  var FS_COPY = "precision mediump float; varying vec2 v_uv; uniform sampler2D u_image; " +
    "void main() { gl_FragColor = texture2D(u_image, v_uv); }";

  function program(gl, vs, fs) {
    var p = gl.createProgram();
    [[gl.VERTEX_SHADER, vs], [gl.FRAGMENT_SHADER, fs]].forEach(function (s) {
      var sh = gl.createShader(s[0]);
      gl.shaderSource(sh, s[1]);
      gl.compileShader(sh);
      if (!gl.getShaderParameter(sh, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(sh));
      gl.attachShader(p, sh);
    });
    ["a_pos", "a_color", "a_size"].forEach(function (name, i) { gl.bindAttribLocation(p, i, name); });
    gl.linkProgram(p);
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(p));
    var u = {};
    ["u_center", "u_scale", "u_point", "u_grow", "u_ring", "u_tint", "u_alpha", "u_image"].forEach(function (name) {
      u[name] = gl.getUniformLocation(p, name);
    });
    return { p: p, u: u };
  }

  /* The WebGL side: buffers, programs, the offscreen target, and the few kinds of draw calls the view makes. */
  function Renderer(gl, a, meta) {
    var n = meta.nodes, i, maxDeg = 1;
    this.gl = gl;
    this.nodeProg = program(gl, VS, FS_NODE);
    this.edgeProg = program(gl, VS, FS_EDGE);
    this.copyProg = program(gl, VS_COPY, FS_COPY);
    var palette = meta.types.map(function (t) { return hexColor(t.color); });
    var colors = new Uint8Array(4 * n), sizes = new Float32Array(n);
    for (i = 0; i < n; i++) if (a.degree[i] > maxDeg) maxDeg = a.degree[i];
    var logMax = Math.log(1 + maxDeg);
    for (i = 0; i < n; i++) {
      var c = palette[a.types[i]] || [150, 150, 150];
      colors[4 * i] = c[0]; colors[4 * i + 1] = c[1]; colors[4 * i + 2] = c[2]; colors[4 * i + 3] = 255;
      sizes[i] = 1 + 2 * Math.sqrt(Math.log(1 + a.degree[i]) / logMax); // degree makes a node up to 3x larger
    }
    this.sizes = sizes;
    this.edgeCount = a.edges.length / 2;
    this.nodeCount = n;
    var sampled = this.edgeCount > CALIBRATE_WITH ? sampleOrder(a.edges) : a.edges;
    this.buf = {
      pos: this.buffer(gl.ARRAY_BUFFER, a.pos),
      color: this.buffer(gl.ARRAY_BUFFER, colors),
      size: this.buffer(gl.ARRAY_BUFFER, sizes),
      quad: this.buffer(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1])),
      edges: this.buffer(gl.ELEMENT_ARRAY_BUFFER, a.edges),
      sampled: sampled === a.edges ? null : this.buffer(gl.ELEMENT_ARRAY_BUFFER, sampled),
      order: this.buffer(gl.ELEMENT_ARRAY_BUFFER, drawOrder(a.degree, n)),
      picked: gl.createBuffer(),
    };
    this.buf.sampled = this.buf.sampled || this.buf.edges;
    this.pickedCount = 0;
  }

  Renderer.prototype.buffer = function (target, data) {
    var gl = this.gl, b = gl.createBuffer();
    gl.bindBuffer(target, b);
    gl.bufferData(target, data, gl.STATIC_DRAW);
    return b;
  };

  /* Start drawing into the canvas (offscreen false) or the offscreen picture; clear it if asked. */
  Renderer.prototype.begin = function (view, offscreen, clear) {
    var gl = this.gl, w = view.canvas.width, h = view.canvas.height;
    if (offscreen && (!this.target || this.target.w !== w || this.target.h !== h)) this.makeTarget(w, h);
    gl.bindFramebuffer(gl.FRAMEBUFFER, offscreen ? this.target.fb : null);
    gl.viewport(0, 0, w, h);
    if (clear) {
      gl.clearColor(BACKGROUND[0], BACKGROUND[1], BACKGROUND[2], 1);
      gl.clear(gl.COLOR_BUFFER_BIT);
    }
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
    var b = this.buf;
    [[b.pos, 2, gl.FLOAT, false], [b.color, 4, gl.UNSIGNED_BYTE, true], [b.size, 1, gl.FLOAT, false]].forEach(
      function (at, i) {
        gl.bindBuffer(gl.ARRAY_BUFFER, at[0]);
        gl.enableVertexAttribArray(i);
        gl.vertexAttribPointer(i, at[1], at[2], at[3], 0, 0);
      });
    this.view = view;
  };

  Renderer.prototype.makeTarget = function (w, h) {
    var gl = this.gl;
    if (this.target) { gl.deleteFramebuffer(this.target.fb); gl.deleteTexture(this.target.tex); }
    var tex = gl.createTexture(), fb = gl.createFramebuffer();
    gl.bindTexture(gl.TEXTURE_2D, tex);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, w, h, 0, gl.RGBA, gl.UNSIGNED_BYTE, null);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    gl.bindFramebuffer(gl.FRAMEBUFFER, fb);
    gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, tex, 0);
    this.target = { w: w, h: h, fb: fb, tex: tex };
  };

  Renderer.prototype.use = function (prog) {
    var gl = this.gl, v = this.view, s = v.size();
    gl.useProgram(prog.p);
    gl.uniform2f(prog.u.u_center, v.cx, v.cy);
    gl.uniform2f(prog.u.u_scale, 2 * v.zoom / s.w, 2 * v.zoom / s.h);
    return prog.u;
  };

  /* Edges first..first+count of the sorted (full pictures) or shuffled (samples) pairs, at the alpha for total. */
  Renderer.prototype.edges = function (sampled, first, count, total) {
    if (count <= 0) return;
    var gl = this.gl, u = this.use(this.edgeProg), scale = this.view.pointScale();
    // Edges fade with their number, or a million lines would paint the canvas solid; zooming in brings them back.
    var alpha = Math.min(0.5, Math.max(0.04, 0.5 * Math.sqrt(3000 / Math.max(1, total)) * scale));
    gl.uniform4f(u.u_tint, 0, 0, 0, 0);
    gl.uniform1f(u.u_alpha, alpha);
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, sampled ? this.buf.sampled : this.buf.edges);
    gl.drawElements(gl.LINES, 2 * count, gl.UNSIGNED_INT, 8 * first);
  };

  /* Nodes first..first+count in drawing order (rising degree). */
  Renderer.prototype.nodes = function (first, count) {
    if (count <= 0) return;
    var gl = this.gl, u = this.use(this.nodeProg), dpr = window.devicePixelRatio || 1;
    gl.uniform1f(u.u_point, this.view.base * this.view.pointScale() * dpr);
    gl.uniform1f(u.u_grow, 0);
    gl.uniform4f(u.u_ring, 0, 0, 0, 0);
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.buf.order);
    gl.drawElements(gl.POINTS, count, gl.UNSIGNED_INT, 4 * first);
  };

  /* The selected node's edges in a strong colour and a ring around it, over everything else. */
  Renderer.prototype.selection = function (selected) {
    if (selected < 0) return;
    var gl = this.gl, u = this.use(this.edgeProg), dpr = window.devicePixelRatio || 1;
    if (this.pickedCount) {
      gl.uniform4f(u.u_tint, 0.1, 0.1, 0.12, 0.6);
      gl.uniform1f(u.u_alpha, 0.95);
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.buf.picked);
      gl.drawElements(gl.LINES, this.pickedCount, gl.UNSIGNED_INT, 0);
    }
    u = this.use(this.nodeProg);
    gl.uniform1f(u.u_point, this.view.base * this.view.pointScale() * dpr);
    gl.uniform1f(u.u_grow, 8 * dpr);
    gl.uniform4f(u.u_ring, 0.08, 0.08, 0.1, 1);
    gl.drawArrays(gl.POINTS, selected, 1);
  };

  Renderer.prototype.pick = function (pairs) {
    var gl = this.gl;
    this.pickedCount = pairs.length;
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.buf.picked);
    gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, new Uint32Array(pairs), gl.DYNAMIC_DRAW);
  };

  /* The finished offscreen picture onto the canvas. */
  Renderer.prototype.show = function (view) {
    var gl = this.gl;
    this.begin(view, false, false);
    gl.disable(gl.BLEND);
    gl.useProgram(this.copyProg.p);
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, this.target.tex);
    gl.uniform1i(this.copyProg.u.u_image, 0);
    for (var i = 1; i < 3; i++) gl.disableVertexAttribArray(i);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buf.quad);
    gl.vertexAttribPointer(0, 2, gl.FLOAT, false, 0, 0);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    this.begin(view, false, false);
  };

  Renderer.prototype.sync = function () {
    this.gl.readPixels(0, 0, 1, 1, this.gl.RGBA, this.gl.UNSIGNED_BYTE, new Uint8Array(4));
  };

  function View(root, spec) {
    this.root = root;
    this.spec = spec;
    this.meta = spec.meta;
    this.source = new Source(spec);
    this.selected = -1;
    this.hovered = -1;
    this.stats = { frames: [], firstFrame: null, mounted: performance.now() };
    this.measure = false; // set by benchmarks: wait for the GPU in each frame, so frame times are real
    this.pending = false;
  }

  View.prototype.message = function (text) {
    var msg = this.root.querySelector(".hh-graph-msg") || this.root.appendChild(el("div", "hh-graph-msg"));
    msg.textContent = text;
    msg.style.display = text ? "" : "none";
  };

  View.prototype.fail = function (text) {
    this.root.setAttribute("data-state", "error");
    if (this.canvas) this.canvas.style.display = "none";
    this.message(text);
  };

  View.prototype.start = function () {
    var self = this, meta = this.meta;
    this.root.setAttribute("data-state", "loading");
    this.canvas = el("canvas");
    var attrs = { antialias: false, alpha: false, preserveDrawingBuffer: false };
    var gl = this.canvas.getContext("webgl2", attrs);
    if (!gl) {
      gl = this.canvas.getContext("webgl", attrs) || this.canvas.getContext("experimental-webgl", attrs);
      if (gl && !gl.getExtension("OES_element_index_uint")) gl = null; // 32-bit indexes: more than 65,536 nodes
    }
    if (!gl) {
      this.fail("WebGL is not available in this browser, so the graph (" + meta.nodes.toLocaleString() + " nodes, " +
        meta.edges.toLocaleString() + " edges) cannot be drawn. Enable hardware acceleration or WebGL in the " +
        "browser settings, or aggregate the data and look at it as a table.");
      return;
    }
    this.gl = gl;
    this.root.insertBefore(this.canvas, this.root.firstChild);
    this.message(meta.mode === "inline" ? "" : "Loading graph data...");
    this.source.arrays().then(function (arrays) {
      self.setup(arrays);
      self.message("");
      self.root.setAttribute("data-state", "ready");
    }).catch(function (err) {
      self.fail("The graph cannot be shown. " + err.message);
    });
  };

  View.prototype.setup = function (a) {
    var self = this;
    this.pos = a.pos; this.edges = a.edges; this.types = a.types; this.degree = a.degree;
    this.r = new Renderer(this.gl, a, this.meta);
    this.grid = new Grid(a.pos, this.meta.nodes);
    this.ui();
    this.fit();
    this.calibrate();
    this.canvas.addEventListener("webglcontextlost", function (e) {
      e.preventDefault();
      self.fail("The browser took the graphics context away (too many WebGL views, or the GPU reset): run the cell " +
        "again to redraw the graph.");
    });
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        if (self.touched) self.redraw(); else self.fit(); // until the analyst moves the view, keep it all in sight
      }).observe(this.root);
    }
  };

  View.prototype.ui = function () {
    var self = this, root = this.root;
    var legend = root.appendChild(el("div", "hh-graph-legend"));
    this.meta.types.forEach(function (t) {
      var row = legend.appendChild(el("div"));
      row.appendChild(el("span", "hh-graph-swatch")).style.background = t.color;
      row.appendChild(document.createTextNode(t.name));
      row.appendChild(el("span", "hh-graph-count", t.count.toLocaleString()));
    });
    var bar = root.appendChild(el("div", "hh-graph-bar"));
    var fit = bar.appendChild(el("button", "hh-graph-fit", "Fit"));
    fit.title = "Show the whole graph";
    fit.addEventListener("click", function () { self.fit(); });
    this.status = bar.appendChild(el("span", "hh-graph-status"));
    this.tip = root.appendChild(el("div", "hh-graph-tip"));
    this.panel = root.appendChild(el("div", "hh-graph-panel"));

    var c = this.canvas, drag = null;
    c.addEventListener("pointerdown", function (e) {
      drag = { x: e.clientX, y: e.clientY, cx: self.cx, cy: self.cy, moved: false };
      try { c.setPointerCapture(e.pointerId); } catch (err) { /* synthetic events have no pointer to capture */ }
    });
    c.addEventListener("pointermove", function (e) {
      if (drag) {
        var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
        if (!drag.moved && dx * dx + dy * dy < 16) return;
        drag.moved = self.touched = true;
        c.classList.add("hh-dragging");
        self.cx = drag.cx - dx / self.zoom;
        self.cy = drag.cy - dy / self.zoom;
        self.hover(-1);
        self.moved();
      } else {
        var p = self.local(e);
        self.hover(self.pick(p.x, p.y), p);
      }
    });
    c.addEventListener("pointerup", function (e) {
      if (drag && !drag.moved) {
        var p = self.local(e);
        self.select(self.pick(p.x, p.y));
      }
      drag = null;
      c.classList.remove("hh-dragging");
    });
    c.addEventListener("pointerleave", function () { if (!drag) self.hover(-1); });
    c.addEventListener("wheel", function (e) {
      e.preventDefault();
      var unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
      var p = self.local(e);
      self.zoomAt(p.x, p.y, Math.exp(-e.deltaY * unit * 0.002));
    }, { passive: false });
  };

  View.prototype.local = function (e) {
    var r = this.canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  };

  View.prototype.size = function () {
    return { w: this.canvas.clientWidth || 1, h: this.canvas.clientHeight || 1 };
  };

  View.prototype.toWorld = function (x, y) {
    var s = this.size();
    return [this.cx + (x - s.w / 2) / this.zoom, this.cy + (y - s.h / 2) / this.zoom];
  };

  View.prototype.zoomAt = function (x, y, factor) {
    var w = this.toWorld(x, y), s = this.size();
    this.touched = true;
    this.zoom = Math.min(Math.max(this.zoom * factor, this.fitZoom / 20), this.fitZoom * 5000);
    // keep the point under the pointer where it is
    this.cx = w[0] - (x - s.w / 2) / this.zoom;
    this.cy = w[1] - (y - s.h / 2) / this.zoom;
    this.hover(-1);
    this.moved();
  };

  View.prototype.fit = function () {
    var b = this.grid.bounds, s = this.size();
    var w = Math.max(b[2] - b[0], 1e-9), h = Math.max(b[3] - b[1], 1e-9);
    this.touched = false;
    this.cx = (b[0] + b[2]) / 2;
    this.cy = (b[1] + b[3]) / 2;
    this.zoom = this.fitZoom = 0.92 * Math.min(s.w / w, s.h / h);
    // Nodes get a third of the room each would have if spread over half the view, within 1.5-7 pixels.
    this.base = Math.min(7, Math.max(1.5, 0.3 * Math.sqrt(0.5 * s.w * s.h / Math.max(1, this.meta.nodes))));
    this.redraw();
  };

  /* Points grow slowly as one zooms in, so neighbourhoods separate visually. */
  View.prototype.pointScale = function () {
    return Math.min(Math.max(Math.sqrt(this.zoom / this.fitZoom), 0.6), 4);
  };

  View.prototype.pick = function (x, y) {
    var w = this.toWorld(x, y), zoom = this.zoom, sizes = this.r.sizes;
    var px = this.base * this.pointScale(), reach = (3 * px / 2 + PICK_SLACK) / zoom; // the largest a node can be
    return this.grid.nearest(this.pos, w[0], w[1], reach, function (i) {
      return (sizes[i] * px / 2 + PICK_SLACK) / zoom;
    });
  };

  View.prototype.node = function (i) {
    var k = Math.floor(i / this.meta.chunkNodes), j = i - k * this.meta.chunkNodes;
    return this.source.chunk(k).then(function (chunk) { return { label: chunk.labels[j], row: chunk.rows[j] }; });
  };

  View.prototype.typeName = function (i) {
    var t = this.meta.types[this.types[i]];
    return t ? t.name : "";
  };

  View.prototype.hover = function (i, p) {
    var tip = this.tip, self = this;
    if (!tip) return;
    if (i < 0) { tip.style.display = "none"; this.hovered = -1; return; }
    tip.style.left = Math.min(p.x + 12, this.size().w - 120) + "px";
    tip.style.top = Math.max(p.y - 28, 0) + "px";
    if (i === this.hovered) return;
    this.hovered = i;
    tip.textContent = "#" + i;
    tip.appendChild(el("span", null, this.typeName(i)));
    tip.style.display = "block";
    this.node(i).then(function (node) {
      if (self.hovered !== i) return;
      tip.textContent = node.label;
      tip.appendChild(el("span", null, self.typeName(i)));
    }, function () { /* the tooltip keeps the index */ });
  };

  /* Select node i (-1: none): its edges drawn over the others, its attributes in the side panel. */
  View.prototype.select = function (i) {
    var edges = this.edges, panel = this.panel, self = this, mine = [];
    this.selected = i;
    if (i >= 0) {
      for (var k = 0; k < edges.length; k += 2) {
        if (edges[k] === i || edges[k + 1] === i) mine.push(edges[k], edges[k + 1]);
      }
    }
    this.r.pick(mine);
    this.redraw();
    panel.textContent = "";
    this.root.removeAttribute("data-selected");
    if (i < 0) { panel.style.display = "none"; return; }
    panel.style.display = "block";
    var close = panel.appendChild(el("button", "hh-graph-close", "\u00d7"));
    close.title = "Clear the selection";
    close.addEventListener("click", function () { self.select(-1); });
    var title = panel.appendChild(el("h3", null, "#" + i));
    var type = panel.appendChild(el("div"));
    var t = this.meta.types[this.types[i]];
    if (t) type.appendChild(el("span", "hh-graph-swatch")).style.background = t.color;
    type.appendChild(document.createTextNode(this.typeName(i)));
    panel.appendChild(el("div", "hh-graph-degree", "degree " + this.degree[i].toLocaleString() + " (edges), " +
      (mine.length / 2).toLocaleString() + " neighbours"));
    var table = panel.appendChild(el("table"));
    this.node(i).then(function (node) {
      if (self.selected !== i) return;
      title.textContent = node.label;
      self.meta.columns.forEach(function (name, c) {
        var v = node.row[c];
        if (v === null || v === undefined || v === "") return;
        var tr = table.appendChild(el("tr"));
        tr.appendChild(el("td", null, name));
        tr.appendChild(el("td", null, typeof v === "object" ? JSON.stringify(v) : String(v)));
      });
      self.root.setAttribute("data-selected", String(i));
    }, function (err) { table.appendChild(el("tr")).appendChild(el("td", null, err.message)); });
  };

  View.prototype.moved = function () {
    var self = this;
    this.moving = true;
    clearTimeout(this.restTimer);
    this.restTimer = setTimeout(function () { self.moving = false; self.redraw(); }, REST_AFTER_MS);
    this.redraw();
  };

  View.prototype.redraw = function () {
    var self = this;
    if (this.pending || !this.r) return;
    this.pending = true;
    requestAnimationFrame(function () { self.pending = false; self.frame(); });
  };

  /* Time a full picture, edges and nodes apart (waiting for the GPU each time), on samples of at most
     CALIBRATE_WITH: how much of the graph a frame can draw within MOVING_FRAME_MS. */
  View.prototype.calibrate = function () {
    var r = this.r, e = Math.min(r.edgeCount, CALIBRATE_WITH), n = Math.min(r.nodeCount, CALIBRATE_WITH);
    this.resize();
    r.begin(this, false, true);
    var t0 = performance.now();
    r.edges(true, 0, e, r.edgeCount);
    r.sync();
    var t1 = performance.now();
    r.nodes(r.nodeCount - n, n);
    r.sync();
    var t2 = performance.now();
    var edgeMs = Math.max(t1 - t0, 0.05) * r.edgeCount / Math.max(e, 1);
    var nodeMs = Math.max(t2 - t1, 0.05) * r.nodeCount / Math.max(n, 1);
    this.stats.fullFrame = { edges: edgeMs, nodes: nodeMs };
    var nodes = Math.min(1, NODE_SHARE * MOVING_FRAME_MS / nodeMs);
    this.lod = { nodes: nodes, edges: Math.min(1, Math.max(0.001, (MOVING_FRAME_MS - nodes * nodeMs) / edgeMs)),
      gain: 1, last: 0 };
    this.progressive = this.lod.nodes < 1 || this.lod.edges < 1;
  };

  View.prototype.resize = function () {
    var s = this.size(), dpr = window.devicePixelRatio || 1;
    var w = Math.round(s.w * dpr), h = Math.round(s.h * dpr);
    if (this.canvas.width !== w || this.canvas.height !== h) { this.canvas.width = w; this.canvas.height = h; }
    return [this.cx, this.cy, this.zoom, w, h].join();
  };

  /* How much a moving frame draws: the calibrated share, corrected by the frame rate actually reached. */
  View.prototype.share = function (t0) {
    var lod = this.lod, interval = lod.last ? t0 - lod.last : 0;
    if (interval > 2.5 * MOVING_FRAME_MS) {
      lod.gain = Math.max(0.05, lod.gain * 0.7);
    } else if (interval && interval < 1.2 * MOVING_FRAME_MS) {
      lod.gain = Math.min(1 / Math.min(lod.edges, lod.nodes), lod.gain * 1.15);
    }
    lod.last = this.moving ? t0 : 0;
    return { edges: Math.min(1, lod.edges * lod.gain), nodes: Math.min(1, lod.nodes * lod.gain) };
  };

  View.prototype.frame = function () {
    var r = this.r, t0 = performance.now(), key = this.resize(), E = r.edgeCount, N = r.nodeCount, note = "";
    if (!this.progressive) {
      r.begin(this, false, true);
      r.edges(false, 0, E, E);
      r.nodes(0, N);
      r.selection(this.selected);
    } else if (this.moving || this.shown !== key) {
      // a quick sample first, whenever the view changed; the full picture follows when it rests
      var share = this.share(t0), e = Math.ceil(share.edges * E), n = Math.ceil(share.nodes * N);
      this.progress = null;
      this.shown = key;
      r.begin(this, false, true);
      r.edges(true, 0, e, e);
      r.nodes(N - n, n);
      r.selection(this.selected);
      note = " \u00b7 drawing " + Math.round(100 * e / Math.max(E, 1)) + "% of edges";
      if (!this.moving) this.redraw();
    } else if (this.finished === key) {
      r.show(this); // only the selection changed
      r.selection(this.selected);
    } else {
      note = this.refine(key);
    }
    if (this.measure) r.sync();
    this.done(t0, note);
  };

  /* One frame's budget of the full picture, into the offscreen target; shown once complete. */
  View.prototype.refine = function (key) {
    var r = this.r, E = r.edgeCount, N = r.nodeCount, p = this.progress;
    if (!p) p = this.progress = { edges: 0, nodes: 0 };
    r.begin(this, true, p.edges === 0 && p.nodes === 0);
    if (p.edges < E) {
      var e = Math.min(E - p.edges, Math.ceil(REFINE_STEP * this.lod.edges * E));
      r.edges(false, p.edges, e, E);
      p.edges += e;
    } else {
      var n = Math.min(N - p.nodes, Math.ceil(REFINE_STEP * this.lod.nodes * N / NODE_SHARE));
      r.nodes(p.nodes, n);
      p.nodes += n;
    }
    if (p.edges < E || p.nodes < N) {
      this.redraw();
      return " \u00b7 refining " + Math.round(100 * (p.edges + p.nodes) / (E + N)) + "%";
    }
    this.finished = key;
    this.progress = null;
    r.show(this);
    r.selection(this.selected);
    this.root.setAttribute("data-refined", performance.now().toFixed(1));
    return "";
  };

  View.prototype.done = function (t0, note) {
    var t1 = performance.now();
    if (this.stats.firstFrame === null) {
      this.stats.firstFrame = t1;
      this.root.setAttribute("data-first-frame", t1.toFixed(1));
    }
    this.stats.frames.push(t1 - t0);
    if (this.stats.frames.length > 2000) this.stats.frames.shift();
    var zoom = this.zoom / this.fitZoom;
    this.status.textContent = this.meta.nodes.toLocaleString() + " nodes \u00b7 " + this.meta.edges.toLocaleString() +
      " edges \u00b7 zoom " + (zoom < 10 ? zoom.toFixed(2) : zoom.toFixed(0)) + "\u00d7" + note;
    this.root.setAttribute("data-zoom", zoom.toFixed(4));
  };

  /* For tests and benchmarks: where node i is on the page (viewport pixels), and the full picture as RGBA. */
  View.prototype.screenPosition = function (i) {
    var r = this.canvas.getBoundingClientRect(), s = this.size();
    return { x: r.left + s.w / 2 + (this.pos[2 * i] - this.cx) * this.zoom,
      y: r.top + s.h / 2 + (this.pos[2 * i + 1] - this.cy) * this.zoom };
  };
  View.prototype.snapshot = function () {
    var gl = this.gl, moving = this.moving;
    this.moving = false;
    this.shown = this.resize();
    while (this.progressive && this.finished !== this.shown) this.refine(this.shown);
    this.frame(); // the drawing buffer is only readable in the task that drew it
    this.moving = moving;
    var w = this.canvas.width, h = this.canvas.height, px = new Uint8Array(w * h * 4), bin = "";
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
    for (var i = 0; i < px.length; i += 0x8000) bin += String.fromCharCode.apply(null, px.subarray(i, i + 0x8000));
    return { width: w, height: h, rgba: btoa(bin) };
  };

  function mount(root, spec) {
    if (!root || root.hunthubGraph) return;
    spec.meta.mode = spec.mode;
    var view = new View(root, spec);
    root.hunthubGraph = view;
    try {
      view.start();
    } catch (err) {
      view.fail("The graph cannot be shown: " + err.message);
    }
  }

  window.HunthubGraph = { version: VERSION, mount: mount };
})();
