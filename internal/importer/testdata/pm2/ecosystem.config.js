// pm2 ecosystem, as `pm2 init simple` writes it, with a computed value.
const base = { autorestart: true, max_memory_restart: "1G" };

module.exports = {
  apps: [
    { ...base, name: "web", script: "app.js", instances: 2, env: { GREETING: ["hel", "lo"].join("") } },
  ],
};
