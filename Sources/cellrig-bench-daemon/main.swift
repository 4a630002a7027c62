// cellrig-bench-daemon: the whole product path at full speed.
//
// Starts the daemon in this process on a scratch directory, runs the seed-000 CCD protocol on a simulated rig
// through the real control socket (engine, criteria, batched SQLite writes, live stream), and reports cell-seconds
// per wall-second and samples stored per second. Usage: cellrig-bench-daemon [RIG_FILE] [PROTOCOL_FILE]

import Control
import Daemon
import Domain
import Foundation
import Logging
import Storage

let arguments = CommandLine.arguments.dropFirst()
let rigFile = arguments.first ?? "rigs/sim.yaml"
let protocolFile = arguments.dropFirst().first ?? "protocols/ccd-step-symmetric.yaml"

let directory = URL(fileURLWithPath: "/tmp").appendingPathComponent("cellrig-bench-\(getpid())")
try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: directory) }

let rig = try DaemonConfiguration.loadRig(text: try String(contentsOfFile: rigFile, encoding: .utf8), file: rigFile)
let configuration = DaemonConfiguration(
    socketPath: directory.appendingPathComponent("b.sock").path,
    databasePath: directory.appendingPathComponent("bench.sqlite").path, rigs: [rig])
var logger = Logger(label: "bench")
logger.logLevel = .warning
let daemon = try CellRigDaemon(configuration: configuration, logger: logger)
let server = Task { try await daemon.run(signals: []) }

let client = ControlClient(socketPath: configuration.socketPath)
var ready = false
for _ in 0..<200 where !ready {
    ready = (try? client.request("GET", "/v1/health", as: HealthInfo.self)) != nil
    if !ready { try await Task.sleep(for: .milliseconds(25)) }
}
guard ready else { fatalError("the daemon did not come up") }

let request = StartRunRequest(
    protocol_file: protocolFile, protocol_text: try String(contentsOfFile: protocolFile, encoding: .utf8), rig: rig.id)
let clock = ContinuousClock()
let began = clock.now
let started = try client.request("POST", "/v1/runs", body: request, as: RunStatus.self)
var final: RunStatus?
try client.stream("/v1/runs/\(started.id)/live") { event, data in
    guard event == LiveEventName.end else { return true }
    final = try JSONDecoder().decode(RunStatus.self, from: Data(data.utf8))
    return false
}
let elapsed = clock.now - began
let wall_s = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
guard let final else { fatalError("no end event") }
let store = try RunStore(readOnlyPath: configuration.databasePath)
var lastTime_s = 0.0
try store.forEachSample(runID: final.id) { lastTime_s = $0.sample.time_s }
await daemon.shutdown()
_ = await server.result

print("daemon path: \(protocolFile) on \(rigFile) (\(rig.id))")
print("  outcome          \(final.state): \(final.reason ?? "-")")
if let ccd = final.ccd_mA_cm2 { print("  CCD              \(ccd) mA/cm2") }
print("  samples stored   \(final.samples)")
print("  cell time        \(String(format: "%.1f", lastTime_s / 3600)) h")
print("  wall time        \(String(format: "%.2f", wall_s)) s")
print("  speed            \(String(format: "%.0f", lastTime_s / wall_s)) cell-seconds per wall-second")
print("  throughput       \(String(format: "%.0f", Double(final.samples) / wall_s)) samples per second stored")
if let reaction = final.reaction_time_ms {
    print("  reaction         \(String(format: "%.3f", reaction)) ms from the tripping sample to the cell-off command")
}
