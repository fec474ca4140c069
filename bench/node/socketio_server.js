// The socket.io reference for bench/ws_fanout.sh: one room; each "msg" event is emitted to the
// whole room (WebSocket transport only).   node socketio_server.js PORT [TLS_DIR]
const fs = require('fs');
const { Server } = require('socket.io');
const port = Number(process.argv[2] || 0);
const tlsDir = process.argv[3];
const server = tlsDir
  ? require('https').createServer({ cert: fs.readFileSync(`${tlsDir}/cert.pem`), key: fs.readFileSync(`${tlsDir}/key.pem`) })
  : require('http').createServer();
const io = new Server(server, { transports: ['websocket'] });
io.on('connection', (socket) => {
  socket.join('room');
  socket.on('msg', (m) => io.to('room').emit('msg', m));
});
server.listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${server.address().port}`));
