#!/usr/bin/env node
// The workspace's bin, so `npm ci` links node_modules/.bin/aiki too (npx finds either); the
// command itself is the root package's bin/aiki.js.
import "../../bin/aiki.js";
