import { test } from "node:test";
import { initBackend } from "../src/backend/select";
import {
  checkConvGradients,
  checkTransposedMatMuls,
  checkWholeModelGradients,
} from "./backend-checks";

test("wasm conv2d and depthwise gradients match the cpu backend", async () => {
  await initBackend("wasm", { quiet: true });
  await checkConvGradients("wasm");
});

test("wasm transposed matMuls match the cpu backend", async () => {
  await initBackend("wasm", { quiet: true });
  await checkTransposedMatMuls("wasm");
});

test("whole MobileNetV2-like model: wasm gradients differ from cpu no more than cpu from itself", async () => {
  await initBackend("wasm", { quiet: true });
  await checkWholeModelGradients("wasm", { name: "mobilenetv2_035", inputSize: 64, batch: 8 });
});
