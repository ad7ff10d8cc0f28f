// hftcore dashboard page: one websocket, coalesced snapshots drawn at most once per frame.
// No dependency, no build step. Text from the server is always set with textContent.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const state = {
    hello: null, snap: null, ws: null, connected: false, authed: false, token: null,
    selected: 0, stage: "tick_to_trade", updates: 0, drawPending: false, nextId: 1,
    retry: 500, confirmAction: null,
  };
  // read-only view for tests and benchmarks (no secret in it)
  window.hftDashboard = {
    get updates() { return state.updates; },
    get seq() { return state.snap ? state.snap.seq : 0; },
    get connected() { return state.connected; },
    get authed() { return state.authed; },
    get riskState() { return state.snap ? state.snap.risk.state : null; },
  };

  // a token in the address fragment (#token=...) is taken and removed at once; it is kept
  // in memory only, never stored
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    state.token = decodeURIComponent(m[1]);
    history.replaceState(null, "", location.pathname + location.search);
  }

  // -- formatting ------------------------------------------------------------------------
  const dash = (v) => (v === null || v === undefined || v === "" ? "-" : String(v));
  function ns(v) {
    if (v === null || v === undefined) return "-";
    if (v >= 1e9) return (v / 1e9).toPrecision(3) + " s";
    if (v >= 1e6) return (v / 1e6).toPrecision(3) + " ms";
    if (v >= 1e3) return (v / 1e3).toPrecision(3) + " µs";
    return Math.round(v) + " ns";
  }
  const int = (v) => (v === null || v === undefined ? "-" : Number(v).toLocaleString("en"));
  function clock(tsNs) {
    if (!tsNs) return "-";
    const d = new Date(Math.floor(tsNs / 1e6));
    return d.toISOString().replace("T", " ").slice(0, 23) + " UTC";
  }

  function fill(tbodyParent, rows) {
    // rows: arrays of [text, className?]; replaces the body of a table
    const body = tbodyParent.tBodies[0];
    const frag = document.createDocumentFragment();
    for (const r of rows) {
      const tr = document.createElement("tr");
      if (r.cls) tr.className = r.cls;
      if (r.key !== undefined) tr.dataset.key = r.key;
      for (const c of r.cells) {
        const td = document.createElement("td");
        if (Array.isArray(c)) {
          td.textContent = dash(c[0]);
          if (c[1]) td.className = c[1];
        } else if (c instanceof Node) {
          td.appendChild(c);
        } else {
          td.textContent = dash(c);
        }
        tr.appendChild(td);
      }
      frag.appendChild(tr);
    }
    body.replaceChildren(frag);
  }

  function toast(text) {
    $("toast").textContent = text;
  }

  // -- websocket -------------------------------------------------------------------------
  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/ws`);
    state.ws = ws;
    ws.onopen = () => { state.retry = 500; setConn(true); };
    ws.onclose = () => {
      setConn(false);
      state.authed = false;
      setControls();
      setTimeout(connect, state.retry);
      state.retry = Math.min(state.retry * 2, 10000);
    };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      onMessage(msg);
    };
  }

  function send(msg) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) {
      state.ws.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }

  function setConn(on) {
    state.connected = on;
    const c = $("conn");
    c.textContent = on ? "live" : "disconnected";
    c.className = "badge " + (on ? "on" : "off");
  }

  function onMessage(msg) {
    switch (msg.type) {
      case "hello":
        state.hello = msg;
        $("mode").textContent = msg.mode + " · hftcore " + msg.version;
        setupLimitForm();
        if (state.token) send({ type: "auth", token: state.token });
        else if (!msg.viewers_allowed) toast("this dashboard needs the control token to view");
        break;
      case "snapshot":
        state.snap = msg;
        state.updates += 1;
        if (!state.drawPending) {
          state.drawPending = true;
          requestAnimationFrame(() => { state.drawPending = false; draw(); });
        }
        break;
      case "auth":
        state.authed = !!msg.ok;
        if (!msg.ok) { state.token = null; toast("wrong token"); }
        else { $("token").value = ""; toast("controls unlocked"); }
        setControls();
        break;
      case "control_result":
        toast(msg.ok ? `done: ${describe(msg.result)}` : `refused: ${msg.error}`);
        break;
      case "error":
        toast(`server: ${msg.error}`);
        break;
      default:
        break;
    }
  }

  function describe(result) {
    if (!result) return "";
    if (result.name) return `${result.scope} ${result.name}: ${dash(result.old)} → ${dash(result.new)}`;
    if (result.cancels_requested !== undefined)
      return `kill switch engaged, ${result.cancels_requested} cancels requested`;
    return `state ${result.state}`;
  }

  // -- controls --------------------------------------------------------------------------
  function setControls() {
    const on = state.authed && state.connected;
    for (const id of ["kill", "resume", "resume-state", "limit-scope", "limit-name",
                      "limit-value", "limit-apply"]) $(id).disabled = !on;
    $("auth-box").hidden = state.authed;
    $("auth-state").textContent = state.authed ? "controls unlocked" : "controls locked";
  }

  function ask(text, action) {
    state.confirmAction = action;
    $("confirm-text").textContent = text;
    $("confirm").showModal();
  }

  function control(action, params) {
    const id = state.nextId++;
    if (!send({ type: "control", id, action, params, confirm: true })) toast("not connected");
  }

  $("confirm-ok").addEventListener("click", () => {
    const act = state.confirmAction;
    state.confirmAction = null;
    $("confirm").close();
    if (act) act();
  });
  $("confirm-cancel").addEventListener("click", () => {
    state.confirmAction = null;
    $("confirm").close();
    toast("cancelled");
  });
  $("unlock").addEventListener("click", () => {
    const t = $("token").value.trim();
    if (!t) return;
    state.token = t;
    send({ type: "auth", token: t });
  });
  $("token").addEventListener("keydown", (e) => { if (e.key === "Enter") $("unlock").click(); });
  $("kill").addEventListener("click", () => ask(
    "Engage the kill switch? Trading halts (every new order is refused) and every open " +
    "order is canceled.", () => control("kill", {})));
  $("resume").addEventListener("click", () => {
    const st = $("resume-state").value;
    ask(`Resume trading: reset the kill switch and set the state to ${st}?`,
        () => control("resume", { state: st }));
  });

  function setupLimitForm() {
    const h = state.hello;
    const scope = $("limit-scope");
    scope.replaceChildren();
    const opt = (v, t) => { const o = document.createElement("option"); o.value = v; o.textContent = t || v; return o; };
    scope.appendChild(opt("global", "global"));
    for (const i of h.instruments) scope.appendChild(opt(i.id));
    scope.onchange = fillNames;
    $("limit-name").onchange = showCurrent;
    fillNames();
    function fillNames() {
      const names = scope.value === "global" ? h.limits.global : h.limits.instrument;
      const sel = $("limit-name");
      sel.replaceChildren(...names.map((n) => opt(n)));
      showCurrent();
    }
  }

  function currentLimit() {
    const s = state.snap;
    if (!s) return undefined;
    const scope = $("limit-scope").value, name = $("limit-name").value;
    const lim = scope === "global" ? s.risk.limits.global : s.risk.limits.instruments[scope];
    return lim ? lim[name] : undefined;
  }

  function showCurrent() {
    const v = currentLimit();
    $("limit-current").textContent = v === null ? "off" : dash(v);
  }

  $("limit-apply").addEventListener("click", () => {
    const scope = $("limit-scope").value, name = $("limit-name").value;
    let raw = $("limit-value").value.trim();
    let value = raw;
    if (name === "self_trade_prevention") value = raw === "true";
    else if (raw === "" || raw.toLowerCase() === "none" || raw.toLowerCase() === "off") value = null;
    const cur = currentLimit();
    ask(`Change ${name} of ${scope} from ${cur === null ? "off" : dash(cur)} to ` +
        `${value === null ? "off" : String(value)}?`,
        () => control("set_limit", { scope, name, value }));
  });

  // -- drawing ---------------------------------------------------------------------------
  function draw() {
    const s = state.snap;
    if (!s) return;
    $("updates").textContent = int(state.updates);
    $("seq").textContent = s.seq;
    $("clock").textContent = clock(s.engine_ns);
    if (s.dashboard) {
      $("build-us").textContent = s.dashboard.build_us;
      $("clients").textContent = s.dashboard.clients;
    }
    const rs = $("risk-state");
    rs.textContent = s.risk.killed ? `${s.risk.state} · kill switch` : s.risk.state;
    rs.className = "badge " + s.risk.state;
    drawInstruments(s);
    drawBook(s);
    drawPnl(s);
    drawOrders(s);
    drawLatency(s);
    drawRisk(s);
    drawVenues(s);
  }

  function drawInstruments(s) {
    const rows = s.instruments.map((r, k) => ({
      key: k, cls: k === state.selected ? "sel" : "",
      cells: [r.id, [r.book, "tag " + r.book.replace(" ", "-")], [r.bid_size, "num"],
              [r.bid, "num bid"], [r.ask, "num ask"], [r.ask_size, "num"], [r.spread, "num"],
              [r.msg_rate, "num"], [int(r.messages), "num"], [r.sequence || "-", "num"],
              [`${r.checksums_ok}/${r.checksums_failed}`, "num"], [r.bad_deltas, "num"],
              [int(r.trades_seen), "num"]],
    }));
    fill($("instruments"), rows);
  }
  $("instruments").addEventListener("click", (e) => {
    const tr = e.target.closest("tr");
    if (tr && tr.dataset.key !== undefined) { state.selected = Number(tr.dataset.key); draw(); }
  });
  $("latency").addEventListener("click", (e) => {
    const tr = e.target.closest("tr");
    if (tr && tr.dataset.key) { state.stage = tr.dataset.key; draw(); }
  });

  function drawBook(s) {
    const r = s.instruments[state.selected] || s.instruments[0];
    if (!r) return;
    $("sel-name").textContent = r.id;
    const st = $("sel-state");
    st.textContent = r.book;
    st.className = "tag " + r.book.replace(" ", "-");
    $("sel-bid").textContent = dash(r.bid);
    $("sel-ask").textContent = dash(r.ask);
    $("sel-spread").textContent = dash(r.spread);
    $("sel-levels").textContent = dash(r.levels);
    const n = Math.max(r.depth.bids.length, r.depth.asks.length);
    const rows = [];
    for (let i = 0; i < n; i++) {
      const b = r.depth.bids[i] || [null, null], a = r.depth.asks[i] || [null, null];
      rows.push({ cells: [[b[1], "num"], [b[0], "num bid"], [a[0], "num ask"], [a[1], "num"]] });
    }
    fill($("ladder"), rows);
    fill($("trades"), r.trades.slice(0, Math.max(n, 10)).map((t) => ({
      cells: [[clock(t.ts).slice(11, 23) + " " + t.side.toLowerCase(),
               t.side === "BUY" ? "bid" : t.side === "SELL" ? "ask" : ""],
              [t.price, "num"], [t.size, "num"]],
    })));
    depthChart($("depth"), r.depth);
  }

  function canvasCtx(cv) {
    // drawn at the canvas' own pixel size; CSS scales it to the panel's width
    return { ctx: cv.getContext("2d"), w: cv.width, h: cv.height };
  }

  function axisText(ctx, text, x, y, align) {
    ctx.fillStyle = "#7f8b98";
    ctx.font = "11px system-ui, sans-serif";
    ctx.textAlign = align || "left";
    ctx.fillText(text, x, y);
  }

  function depthChart(cv, depth) {
    const { ctx, w, h } = canvasCtx(cv);
    ctx.clearRect(0, 0, w, h);
    const bids = depth.bids.map(([p, q]) => [Number(p), Number(q)]);
    const asks = depth.asks.map(([p, q]) => [Number(p), Number(q)]);
    if (!bids.length && !asks.length) { axisText(ctx, "no book", 10, 20); return; }
    let cb = 0, ca = 0;
    const cumB = bids.map(([p, q]) => [p, (cb += q)]);
    const cumA = asks.map(([p, q]) => [p, (ca += q)]);
    const prices = cumB.map((x) => x[0]).concat(cumA.map((x) => x[0]));
    const lo = Math.min(...prices), hi = Math.max(...prices);
    const top = Math.max(cb, ca) || 1;
    const pad = 24;
    const X = (p) => pad + (hi > lo ? (p - lo) / (hi - lo) : 0.5) * (w - 2 * pad);
    const Y = (q) => h - pad - (q / top) * (h - 2 * pad);
    function area(points, color, fillc) {
      if (!points.length) return;
      ctx.beginPath();
      ctx.moveTo(X(points[0][0]), Y(0));
      for (let i = 0; i < points.length; i++) {
        const [p, q] = points[i];
        ctx.lineTo(X(p), Y(i ? points[i - 1][1] : 0));
        ctx.lineTo(X(p), Y(q));
      }
      const last = points[points.length - 1];
      ctx.lineTo(X(last[0]), Y(0));
      ctx.closePath();
      ctx.fillStyle = fillc;
      ctx.fill();
      ctx.strokeStyle = color;
      ctx.stroke();
    }
    area(cumB, "#3fb77a", "rgba(63,183,122,.25)");
    area(cumA, "#e25c5c", "rgba(226,92,92,.25)");
    axisText(ctx, depth.bids.length ? depth.bids[depth.bids.length - 1][0] : "", pad, h - 6);
    axisText(ctx, depth.asks.length ? depth.asks[depth.asks.length - 1][0] : "", w - pad, h - 6, "right");
    axisText(ctx, "cumulative size " + top.toPrecision(4), pad, 14);
  }

  function drawPnl(s) {
    const p = s.pnl;
    $("pnl-total").textContent = dash(p.total);
    $("pnl-realized").textContent = dash(p.realized);
    $("pnl-unrealized").textContent = dash(p.unrealized);
    $("pnl-fees").textContent = dash(p.fees);
    $("pnl-turnover").textContent = dash(p.turnover);
    $("pnl-total").className = Number(p.total) < 0 ? "ask" : "bid";
    fill($("positions"), s.positions.map((x) => ({
      cells: [x.instrument, [x.net, "num"], [x.avg_price, "num"], [x.mark, "num"],
              [x.realized, "num"], [x.unrealized, "num"], [x.fees, "num"]],
    })));
    lineChart($("equity"), s.equity.points, s.equity.decimals);
  }

  function lineChart(cv, points, decimals) {
    const { ctx, w, h } = canvasCtx(cv);
    ctx.clearRect(0, 0, w, h);
    if (points.length < 2) { axisText(ctx, "equity curve: waiting for data", 10, 20); return; }
    const scale = Math.pow(10, decimals);
    const t0 = points[0][0], t1 = points[points.length - 1][0];
    const ys = points.map((x) => x[1] / scale);
    let lo = Math.min(0, ...ys), hi = Math.max(0, ...ys);
    if (hi === lo) hi = lo + 1;
    const pad = 24;
    const X = (t) => pad + (t1 > t0 ? (t - t0) / (t1 - t0) : 0) * (w - 2 * pad);
    const Y = (v) => h - pad - ((v - lo) / (hi - lo)) * (h - 2 * pad);
    ctx.strokeStyle = "#2a333d";
    ctx.beginPath(); ctx.moveTo(pad, Y(0)); ctx.lineTo(w - pad, Y(0)); ctx.stroke();
    ctx.strokeStyle = "#5aa7e6";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    points.forEach(([t], i) => (i ? ctx.lineTo(X(t), Y(ys[i])) : ctx.moveTo(X(t), Y(ys[i]))));
    ctx.stroke();
    ctx.lineWidth = 1;
    axisText(ctx, hi.toPrecision(4), 2, 12);
    axisText(ctx, lo.toPrecision(4), 2, h - 10);
    axisText(ctx, ((t1 - t0) / 1e9).toFixed(1) + " s", w - pad, h - 6, "right");
  }

  function orderRow(o, withReason) {
    const side = [o.side, o.side === "BUY" ? "bid" : "ask"];
    return withReason
      ? { cells: [o.id, o.instrument, side, [o.price, "num"], [o.size, "num"], o.reason] }
      : { cells: [o.id, o.instrument, side, [o.price, "num"], [o.size, "num"],
                  [o.filled, "num"], o.status] };
  }

  function drawOrders(s) {
    const o = s.orders;
    $("working-count").textContent = o.working_count;
    $("orders-total").textContent = int(o.total);
    $("fills-total").textContent = int(s.engine.fills);
    fill($("working"), o.working.map((x) => orderRow(x, false)));
    fill($("done"), o.done.map((x) => orderRow(x, false)));
    fill($("rejected"), o.rejected.map((x) => orderRow(x, true)));
    fill($("fills"), s.fills.map((f) => ({
      cells: [f.id, f.instrument, [f.side, f.side === "BUY" ? "bid" : "ask"], [f.price, "num"],
              [f.size, "num"], f.liquidity, [f.fee, "num"]],
    })));
  }

  function drawLatency(s) {
    fill($("latency"), s.latency.map((r) => ({
      key: r.stage, cls: r.stage === state.stage ? "sel" : "",
      cells: [r.stage, [int(r.count), "num"], [ns(r.p50), "num"], [ns(r.p90), "num"],
              [ns(r.p99), "num"], [ns(r["p99.9"]), "num"], [ns(r.max), "num"]],
    })));
    const row = s.latency.find((r) => r.stage === state.stage);
    $("hist-stage").textContent = state.stage;
    histChart($("histogram"), row && row.hist ? row.hist : []);
  }

  function histChart(cv, bins) {
    const { ctx, w, h } = canvasCtx(cv);
    ctx.clearRect(0, 0, w, h);
    if (!bins.length) { axisText(ctx, "no samples", 10, 20); return; }
    const top = Math.max(...bins.map((b) => b[1])) || 1;
    const pad = 18, bw = (w - 2 * pad) / bins.length;
    bins.forEach(([lo, n], i) => {
      const bh = (n / top) * (h - 2 * pad - 10);
      ctx.fillStyle = "#5aa7e6";
      ctx.fillRect(pad + i * bw + 1, h - pad - bh, Math.max(bw - 2, 1), bh);
      if (bins.length <= 24 || i % 2 === 0) axisText(ctx, ns(lo), pad + i * bw + bw / 2, h - 4, "center");
    });
    axisText(ctx, "count " + top.toLocaleString("en"), pad, 12);
  }

  function bar(ratio) {
    const outer = document.createElement("div");
    outer.className = "bar";
    const inner = document.createElement("div");
    const r = ratio === null || ratio === undefined ? 0 : Math.min(Math.max(ratio, 0), 1);
    inner.style.width = (r * 100).toFixed(1) + "%";
    if (r > 0.8) inner.className = "hot";
    outer.appendChild(inner);
    outer.title = ratio === null ? "" : (ratio * 100).toFixed(1) + "%";
    return outer;
  }

  function drawRisk(s) {
    const r = s.risk;
    const k = $("risk-killed");
    k.textContent = r.killed ? "kill switch engaged" : "kill switch off";
    k.className = "tag" + (r.killed ? " killed" : "");
    $("risk-gross").textContent = dash(r.exposure.gross);
    $("risk-net").textContent = dash(r.exposure.net_worst);
    $("risk-open").textContent = dash(r.open_orders);
    $("risk-passed").textContent = `${int(r.passed)} / ${int(r.checks)}`;
    fill($("usage"), r.usage.length ? r.usage.map((u) => ({
      cells: [u.scope, u.limit, [u.used, "num"], [u.value, "num"], bar(u.ratio)],
    })) : [{ cells: ["no limit set", "", "", "", ""] }]);
    const rej = Object.entries(r.rejections).sort((a, b) => b[1] - a[1]);
    fill($("rejections"), rej.length ? rej.map(([k2, v]) => ({ cells: [k2, [int(v), "num"]] }))
      : [{ cells: ["none", ["0", "num"]] }]);
    showCurrent();
  }

  function drawVenues(s) {
    $("events-rate").textContent = int(Math.round(s.engine.events_per_s));
    $("messages-rate").textContent = int(Math.round(s.engine.messages_per_s));
    $("events-total").textContent = int(s.engine.events);
    $("failures").textContent = s.engine.failures.length;
    fill($("venues"), s.venues.map((v) => ({
      cells: [v.venue, [v.state, v.state === "connected" || v.state === "replay" ? "bid" :
                        v.state === "disconnected" ? "ask" : ""],
              [v.msg_rate, "num"], [int(v.messages), "num"], [v.gaps, "num"],
              [v.decode_errors, "num"], [v.resyncs, "num"]],
    })));
    const log = $("control-log");
    const items = s.controls.slice().reverse().map((c) => {
      const li = document.createElement("li");
      const t = new Date(Math.floor(c.wall_ns / 1e6)).toISOString().slice(11, 19);
      const what = c.event === "control_done" ? `${c.action}: ${describe(c.result)}`
        : c.event === "control_refused" ? `refused ${c.action}: ${c.error}`
        : `${c.event} ${c.action || ""} ${c.error || ""}`;
      li.textContent = `${t} #${c.seq} ${what} (${c.by})`;
      return li;
    });
    log.replaceChildren(...items);
  }

  setConn(false);
  setControls();
  connect();
})();
