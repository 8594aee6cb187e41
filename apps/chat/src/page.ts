// The one page the chat serves at "/": join a room, see who you talk to through which worker. Text
// from others is put in the page with textContent only, never as HTML.
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ws chat</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
  #log { border: 1px solid #ccc; height: 20rem; overflow-y: auto; padding: .5rem; margin: .5rem 0; }
  #log p { margin: .2rem 0; }
  .meta { color: #777; font-size: 90%; }
  form { display: flex; gap: .5rem; }
  #text { flex: 1; }
</style>
</head>
<body>
<h1>ws chat</h1>
<form id="join">
  <label>room <input id="room" value="lobby" pattern="[A-Za-z0-9_-]{1,32}" required></label>
  <label>name <input id="name" pattern="[A-Za-z0-9_-]{1,32}" required></label>
  <button>join</button>
</form>
<p id="status" class="meta">not connected</p>
<div id="log"></div>
<form id="say"><input id="text" maxlength="1000" autocomplete="off" placeholder="say something"><button>send</button></form>
<script>
  const $ = (id) => document.getElementById(id);
  $("name").value = "guest-" + Math.floor(Math.random() * 1000);
  let socket = null;
  function line(text, meta) {
    const p = document.createElement("p");
    if (meta) p.className = "meta";
    p.textContent = text;
    $("log").append(p);
    $("log").scrollTop = $("log").scrollHeight;
  }
  $("join").onsubmit = (event) => {
    event.preventDefault();
    socket?.close();
    const url = new URL("/chat", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("room", $("room").value);
    url.searchParams.set("name", $("name").value);
    socket = new WebSocket(url);
    socket.onmessage = (event) => {
      const m = JSON.parse(event.data);
      if (m.type === "welcome") {
        $("status").textContent = "in " + m.room + " as " + m.name + ", served by worker " + m.worker + " (" + m.here + " here on it)";
      } else {
        line(m.name + " (worker " + m.worker + "): " + m.text);
      }
    };
    socket.onclose = () => line("disconnected", true);
  };
  $("say").onsubmit = (event) => {
    event.preventDefault();
    if (socket?.readyState === WebSocket.OPEN && $("text").value) socket.send($("text").value);
    $("text").value = "";
  };
</script>
</body>
</html>
`;
