// The Node.js app: daprd delivers each event of the input binding "orders" to POST /orders.
// Plain Node (no dependencies): answering OPTIONS /orders tells daprd the app takes the binding.
// Prints each order received as one JSON line.
"use strict";
const http = require("node:http");

const server = http.createServer((req, res) => {
  if (req.url !== "/orders") {
    res.writeHead(404).end();
    return;
  }
  if (req.method === "OPTIONS") {
    res.writeHead(200).end();
    return;
  }
  let body = "";
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    try {
      const order = JSON.parse(body);
      console.log(JSON.stringify({ received: order }));
      res.writeHead(200).end();
    } catch (err) {
      console.log(`not JSON: ${body}`);
      res.writeHead(400).end();
    }
  });
});

server.listen(Number(process.env.APP_PORT), "127.0.0.1", () => console.log(`receiver on ${process.env.APP_PORT}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
