// The Node `ws` reference for bench/ws_fanout.sh: every text message is broadcast to every
// connected client, the same bytes for all.   node ws_server.js PORT [TLS_DIR]
const fs = require('fs');
const { WebSocketServer, WebSocket } = require('ws');
const port = Number(process.argv[2] || 0);
const tlsDir = process.argv[3];
const server = tlsDir
  ? require('https').createServer({ cert: fs.readFileSync(`${tlsDir}/cert.pem`), key: fs.readFileSync(`${tlsDir}/key.pem`) })
  : require('http').createServer();
const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    for (const c of wss.clients) if (c.readyState === WebSocket.OPEN) c.send(data, { binary: isBinary });
  });
});
server.listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${server.address().port}`));
