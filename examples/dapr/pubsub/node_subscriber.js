// The Node.js subscriber: topics A and B of "pubsub", declared on GET /dapr/subscribe.
// Plain Node (no dependencies). Prints each CloudEvent's topic and data as one JSON line.
"use strict";
const http = require("node:http");

const TOPICS = ["A", "B"];

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/dapr/subscribe") {
    const subscriptions = TOPICS.map((topic) => ({ pubsubname: "pubsub", topic, route: `/on/${topic}` }));
    res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(subscriptions));
    return;
  }
  if (req.method === "POST" && req.url.startsWith("/on/")) {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const event = JSON.parse(body);
      console.log(JSON.stringify({ topic: event.topic, data: event.data }));
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ status: "SUCCESS" }));
    });
    return;
  }
  res.writeHead(404).end();
});

server.listen(Number(process.env.APP_PORT), "127.0.0.1", () => console.log(`node subscriber on ${process.env.APP_PORT}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
