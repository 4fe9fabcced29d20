// Runs once, as the root user, when the mongo container initialises an empty data directory
// (docker-entrypoint-initdb.d). Each service gets its own user, defined in its own database,
// with readWrite on that database only: one service can neither read nor change another's
// data, and no service holds the root credentials. Passwords come from the environment
// (docker-compose.yml passes MONGO_<SERVICE>_PASSWORD); tests/test_compose.py reads this file.
const SERVICES = ["registry", "verification", "integration", "decree"];

for (const name of SERVICES) {
  const variable = `MONGO_${name.toUpperCase()}_PASSWORD`;
  const password = process.env[variable];
  if (!password) {
    throw new Error(`${variable} is not set; the ${name} service would have no database user`);
  }
  const database = `siks_${name}`;
  db.getSiblingDB(database).createUser({
    user: `siks_${name}`,
    pwd: password,
    roles: [{ role: "readWrite", db: database }],
  });
  print(`created user siks_${name} with readWrite on ${database}`);
}
