// cellrig-bench-daemon: the whole product path at full speed, beside plain SQLite inserts of the same rows.
//
// Starts the daemon in this process on a scratch directory, runs the seed-000 CCD protocol on a simulated rig
// through the real control socket (simulator, engine, criteria, batched SQLite writes, live stream), and reports
// cell-seconds per wall-second and samples stored per second. Then, in the same run, it inserts the very rows the
// daemon stored into a fresh SQLite file with one prepared statement, one transaction per 4096 rows (what the
// daemon's storage does, without anything else), twice: binding each row with GRDB's statement arguments, and with
// SQLite's C calls. It prints the ratio of the daemon's rate to the faster of the two: the figure to watch.
// Usage: cellrig-bench-daemon [RIG_FILE] [PROTOCOL_FILE]

import Control
import Daemon
import Domain
import Foundation
import GRDB
import GRDBSQLite
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
var stored: [RecordedSample] = []
try store.forEachSample(runID: final.id) { stored.append($0) }
let lastTime_s = stored.last?.sample.time_s ?? 0
await daemon.shutdown()
_ = await server.result

/// FNV-1a over the bit patterns of every stored value of every row, in order: two builds that store the same rows
/// print the same digest, so a change meant to be invisible to the data can be checked end to end.
func rowsDigest(_ rows: [RecordedSample]) -> UInt64 {
    var digest: UInt64 = 0xcbf2_9ce4_8422_2325
    func mix(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) {
            digest = (digest ^ ((value >> UInt64(shift)) & 0xff)) &* 0x100_0000_01b3
        }
    }
    for row in rows {
        let sample = row.sample
        mix(UInt64(bitPattern: Int64(row.seq)))
        mix(UInt64(bitPattern: Int64(row.stepIndex)))
        mix(UInt64(bitPattern: Int64(row.cycle)))
        for value in [sample.time_s, sample.current_A, sample.voltage_V] { mix(value.bitPattern) }
        for value in [sample.voltageWERE_V, sample.pressure_MPa, sample.temperature_C] {
            mix(value.map(\.bitPattern) ?? 0x7ff8_dead_0000_0001)
        }
        mix(UInt64(bitPattern: Int64(sample.flags.rawValue)))
    }
    return digest
}

/// How a baseline binds each row: GRDB's statement arguments, or SQLite's C calls on the same prepared statement.
enum Binding: String { case grdbArguments = "GRDB arguments", sqliteCalls = "SQLite C binding" }

@inline(__always)
func bindOptional(_ value: Double?, _ handle: SQLiteStatement, _ index: Int32) {
    if let value { sqlite3_bind_double(handle, index, value) } else { sqlite3_bind_null(handle, index) }
}

/// Inserts `rows` into a fresh samples table as plainly as SQLite allows; returns the wall seconds taken.
func plainInsert(_ rows: [RecordedSample], into path: String, binding: Binding) throws -> Double {
    let queue = try DatabaseQueue(path: path)
    try queue.write { db in
        try db.execute(
            sql: """
                CREATE TABLE samples (run_id INTEGER NOT NULL, seq INTEGER NOT NULL, time_s REAL NOT NULL,
                    current_A REAL, voltage_V REAL, voltage_we_re_V REAL, pressure_MPa REAL, temperature_C REAL,
                    cycle INTEGER NOT NULL, step_index INTEGER NOT NULL, flags INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (run_id, seq)) WITHOUT ROWID
                """)
    }
    try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
    let began = ContinuousClock.now
    var start = 0
    while start < rows.count {
        let end = min(start + 4096, rows.count)
        try queue.write { db in
            let statement = try db.cachedStatement(
                sql: "INSERT INTO samples VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            switch binding {
            case .grdbArguments:
                for row in rows[start..<end] {
                    let sample = row.sample
                    try statement.execute(arguments: [
                        row.seq, sample.time_s, sample.current_A, sample.voltage_V, sample.voltageWERE_V,
                        sample.pressure_MPa, sample.temperature_C, row.cycle, row.stepIndex, sample.flags.rawValue,
                    ])
                }
            case .sqliteCalls:
                let handle = statement.sqliteStatement
                for row in rows[start..<end] {
                    let sample = row.sample
                    sqlite3_bind_int64(handle, 1, Int64(row.seq))
                    sqlite3_bind_double(handle, 2, sample.time_s)
                    sqlite3_bind_double(handle, 3, sample.current_A)
                    sqlite3_bind_double(handle, 4, sample.voltage_V)
                    bindOptional(sample.voltageWERE_V, handle, 5)
                    bindOptional(sample.pressure_MPa, handle, 6)
                    bindOptional(sample.temperature_C, handle, 7)
                    sqlite3_bind_int64(handle, 8, Int64(row.cycle))
                    sqlite3_bind_int64(handle, 9, Int64(row.stepIndex))
                    sqlite3_bind_int64(handle, 10, Int64(sample.flags.rawValue))
                    let code = sqlite3_step(handle)
                    guard code == SQLITE_DONE else { fatalError("plain insert failed: \(db.lastErrorMessage ?? "")") }
                    sqlite3_reset(handle)
                }
            }
        }
        start = end
    }
    let elapsed = ContinuousClock.now - began
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
}
// Both ways of binding, each on a fresh file; the ratio is taken against the faster, so it never flatters.
let plainRates = try [Binding.grdbArguments, .sqliteCalls].map { binding in
    let seconds = try plainInsert(
        stored, into: directory.appendingPathComponent("plain-\(binding).sqlite").path, binding: binding)
    return (binding, Double(stored.count) / seconds)
}
let daemonRate = Double(final.samples) / wall_s
let (fastestBinding, plainRate) = plainRates.max { $0.1 < $1.1 }!

print("daemon path: \(protocolFile) on \(rigFile) (\(rig.id))")
print("  outcome          \(final.state): \(final.reason ?? "-")")
if let ccd = final.ccd_mA_cm2 { print("  CCD              \(ccd) mA/cm2") }
print("  samples stored   \(final.samples)")
print("  cell time        \(String(format: "%.1f", lastTime_s / 3600)) h")
print("  rows digest      \(String(rowsDigest(stored), radix: 16)) (of every stored value: equal digests, equal rows)")
print("  wall time        \(String(format: "%.2f", wall_s)) s")
print("  speed            \(String(format: "%.0f", lastTime_s / wall_s)) cell-seconds per wall-second")
print("  throughput       \(String(format: "%.0f", daemonRate)) samples per second stored (whole daemon path)")
for (binding, rate) in plainRates {
    print(
        "  plain SQLite     \(String(format: "%.0f", rate)) rows per second (same rows, prepared insert, \(binding.rawValue))"
    )
}
print(
    "  ratio            \(String(format: "%.2f", daemonRate / plainRate)) (daemon path / plain inserts with \(fastestBinding.rawValue))"
)
if let reaction = final.reaction_time_ms {
    let text = String(format: "%.3f", reaction)
    print("  reaction         \(text) ms from the tripping sample's arrival to the cell-off command")
}
if let confirmed = final.cell_off_confirmed_ms {
    let text = String(format: "%.3f", confirmed)
    print("  cell off         \(text) ms from the same arrival to the instrument's confirmation")
}
