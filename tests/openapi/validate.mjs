// Validates the OpenAPI document against the OpenAPI 3.0 schema and the specification's rules
// that a schema cannot express, such as declared path parameters (@readme/openapi-parser), then
// checks the project's own conventions that a generic
// validator does not know.
//
//   npm ci --prefix tests/openapi && node tests/openapi/validate.mjs http/openapi.json

const file = process.argv[2];
if (!file) {
  console.error("usage: node validate.mjs path/to/openapi.json");
  process.exit(2);
}

let OpenAPIParser;
try {
  ({ default: OpenAPIParser } = await import("@readme/openapi-parser"));
} catch {
  console.error("the validator is not installed: run `npm ci --prefix tests/openapi` first");
  process.exit(1);
}

const failures = [];
let api;
try {
  // validate() dereferences the document, so the raw one is parsed again for the checks below.
  await OpenAPIParser.validate(file);
  api = await OpenAPIParser.parse(file);
} catch (err) {
  console.error(`${file}: not a valid OpenAPI document:\n${err.message}`);
  process.exit(1);
}

if (!/^3\.0\.\d+$/.test(api.openapi)) failures.push(`openapi is ${api.openapi}, expected 3.0.x`);

const methods = ["get", "put", "post", "delete", "patch", "head", "options"];
let operations = 0;
for (const [path, item] of Object.entries(api.paths)) {
  for (const method of methods) {
    const op = item[method];
    if (!op) continue;
    operations++;
    const where = `${method.toUpperCase()} ${path}`;
    if (!op.operationId) failures.push(`${where}: no operationId`);
    const codes = Object.keys(op.responses ?? {});
    if (!codes.some((c) => /^[123]\d\d$/.test(c))) failures.push(`${where}: no success response`);
    // API.md: every error is application/problem+json, and every 429 says when to retry.
    for (const code of codes.filter((c) => /^[45]\d\d$/.test(c))) {
      let r = op.responses[code];
      if (r.$ref) r = api.components.responses[r.$ref.split("/").pop()];
      if (!r?.content?.["application/problem+json"])
        failures.push(`${where}: ${code} is not application/problem+json`);
      if (code === "429" && !r?.headers?.["Retry-After"])
        failures.push(`${where}: 429 without Retry-After`);
    }
  }
}

if (failures.length) {
  console.error(failures.join("\n"));
  process.exit(1);
}
console.log(`${file}: valid OpenAPI ${api.openapi}, ${operations} operations`);
