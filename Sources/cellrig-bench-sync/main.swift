// cellrig-bench-sync: samples/s the fleet sync sends into PostgreSQL, against a plain COPY of the same rows into an
// identical table, and the sync's lag while a simulated run records at full speed. Prints figures; asserts nothing.
//
// The server is CELLRIG_TEST_POSTGRES (default: the local Unix socket, as the current user, who may create
// databases); the benchmark creates its own database and drops it.

import Control
import Daemon
import Domain
import FleetSync
import Foundation
import Logging
import NIOCore
import PostgresNIO
import ProtocolFiles
import Storage

let sampleCount = Int(ProcessInfo.processInfo.environment["CELLRIG_BENCH_SAMPLES"] ?? "") ?? 1_000_000
let logger: Logger = {
    var logger = Logger(label: "bench-sync")
    logger.logLevel = .error
    return logger
}()
let user = ProcessInfo.processInfo.userName
let admin = try PostgresEndpoint.parse(
    ProcessInfo.processInfo.environment["CELLRIG_TEST_POSTGRES"]
        ?? "postgresql://\(user)@/postgres?host=/var/run/postgresql", defaultUser: user)
let databaseName = "cellrig_bench_\(UUID().uuidString.prefix(8).lowercased())"
var central = admin
central.database = databaseName
let scratch = URL(fileURLWithPath: "/tmp/cellrig-bench-sync-\(UUID().uuidString.prefix(8))")
try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}

func rate(_ count: Int, _ duration: Duration) -> String {
    formatNumber(Double(count) / seconds(duration), significantDigits: 3)
}

/// A stored run of `count` samples shaped like a CCD test's: 1 s apart, a current step every 3600 samples.
func makeStoredRun(path: String, count: Int) throws -> (RunStore, Int64) {
    let store = try RunStore(path: path)
    let text = try String(contentsOfFile: "protocols/ccd-step-symmetric.yaml", encoding: .utf8)
    let testProtocol = try ProtocolFile.parse(text, file: "protocols/ccd-step-symmetric.yaml")
    let rig = try DaemonConfiguration.embeddedSimulatedRig()
    let plan = try StepPlan(expanding: testProtocol, area_cm2: 0.196)
    let start = RunStart(
        protocolName: testProtocol.name, protocolFile: "protocols/ccd-step-symmetric.yaml", protocolText: text,
        rig: rig, cell: rig.cell, area_cm2: 0.196, plan: plan, instruments: [])
    let runID = try store.createRun(start, threeElectrode: false)
    var seq = 0
    while seq < count {
        let batch = (seq..<min(seq + 20_000, count)).map { index in
            let step = index / 3600
            let current = (step % 2 == 0 ? -1.0 : 1.0) * 9.8e-6 * Double(step / 2 + 1)
            let sample = InstrumentSample(
                time_s: Double(index + 1), current_A: current,
                voltage_V: current * 1700 + 1e-4 * sin(Double(index) / 7),
                pressure_MPa: 2.5 + 1e-3 * cos(Double(index)),
                temperature_C: 20 + 0.01 * sin(Double(index) / 100))
            return RecordedSample(seq: index, sample: sample, stepIndex: step, cycle: step / 2 + 1)
        }
        try store.append(runID: runID, samples: batch, steps: [], events: [])
        seq += batch.count
    }
    return (store, runID)
}

func withClient<T: Sendable>(_ endpoint: PostgresEndpoint, _ body: @Sendable (PostgresClient) async throws -> T)
    async throws -> T
{
    try await FleetConnection.withClient(endpoint, password: nil, logger: logger, body)
}

_ = try await withClient(admin) { client in
    try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(databaseName)"), logger: logger)
}
print("cellrig-bench-sync: \(sampleCount) samples, PostgreSQL database \(databaseName) on \(admin.host)")

do {
    let clock = ContinuousClock()
    let (store, runID) = try makeStoredRun(
        path: scratch.appendingPathComponent("bench.sqlite").path, count: sampleCount)

    // The same rows as COPY text, made before the clock starts: the plain COPY measures the server's side only.
    var text = ByteBufferAllocator().buffer(capacity: sampleCount * 96)
    let encoded = try await store.syncSamples(runID: runID, after: -1, limit: sampleCount, into: 0) { count, _ in
        count += 1
    }
    precondition(encoded == sampleCount)
    var allRows: [SyncSampleRow] = []
    allRows.reserveCapacity(sampleCount)
    allRows = try await store.syncSamples(runID: runID, after: -1, limit: sampleCount, into: allRows) {
        $0.append($1)
    }
    for row in allRows {
        text.writeString("bench\t\(runID)\t\(row.seq)\t\(row.time_s)\t")
        for value in [row.current_A, row.voltage_V, row.voltageWERE_V, row.pressure_MPa, row.temperature_C] {
            text.writeString(value.map { "\($0)" } ?? "\\N")
            text.writeString("\t")
        }
        text.writeString("\(row.cycle)\t\(row.stepIndex)\t\(row.flags)\n")
    }
    allRows = []
    let copyText = text

    let (baseline, synced) = try await withClient(central) { client in
        try await FleetSchema.migrate(client, appliedBy: "bench", logger: logger)
        try await client.query(
            "CREATE TABLE cellrig.samples_baseline (LIKE cellrig.samples INCLUDING ALL)", logger: logger)
        let baselineStart = clock.now
        try await client.withConnection { connection in
            try await connection.query("BEGIN", logger: logger)
            try await connection.query("SET LOCAL search_path TO cellrig", logger: logger)
            try await connection.copyFrom(
                table: "samples_baseline",
                columns: [
                    "daemon_id", "run_id", "seq", "time_s", "current_a", "voltage_v", "voltage_we_re_v", "pressure_mpa",
                    "temperature_c", "cycle", "step_index", "flags",
                ], logger: logger
            ) { writer in
                var remaining = copyText
                while let chunk = remaining.readSlice(length: min(1 << 20, remaining.readableBytes)),
                    chunk.readableBytes > 0
                {
                    try await writer.write(chunk)
                }
            }
            try await connection.query("COMMIT", logger: logger)
        }
        let baseline = clock.now - baselineStart

        let engine = FleetSyncEngine(
            store: store, client: client, daemonID: "bench", batchSamples: 20_000, logger: logger)
        let syncStart = clock.now
        let summary = try await engine.round()
        let synced = clock.now - syncStart
        precondition(summary.samples == sampleCount, "the sync sent \(summary.samples)")
        return (baseline, synced)
    }
    print("  plain COPY (one statement, text made beforehand): \(rate(sampleCount, baseline)) samples/s")
    print(
        "  fleet sync (read SQLite, encode, COPY per 20,000, watermarks): \(rate(sampleCount, synced)) samples/s, "
            + "\(formatNumber(seconds(baseline) / seconds(synced), significantDigits: 3)) of the plain COPY")

    // A simulated CCD test at full speed, without and then with the sync: its duration, and the sync's lag.
    for withSync in [false, true] {
        let directory = scratch.appendingPathComponent(withSync ? "with" : "without")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var sync: FleetSyncSettings?
        if withSync { sync = FleetSyncSettings(daemonID: "bench-live", endpoint: central, interval_s: 0.2) }
        let configuration = DaemonConfiguration(
            socketPath: directory.appendingPathComponent("d.sock").path,
            databasePath: directory.appendingPathComponent("cellrig.sqlite").path,
            rigs: [try DaemonConfiguration.embeddedSimulatedRig()], sync: sync)
        let daemon = try CellRigDaemon(configuration: configuration, logger: logger)
        let task = Task { try await daemon.run(signals: []) }
        try await Task.sleep(for: .milliseconds(500))
        let protocolText = try String(contentsOfFile: "protocols/ccd-step-symmetric.yaml", encoding: .utf8)
        let started = clock.now
        let run = try await daemon.startRun(
            StartRunRequest(protocol_file: "ccd.yaml", protocol_text: protocolText, rig: "sim"))
        var maximumPending = 0
        var maximumLag = 0.0
        var polls = 0
        while !(try await daemon.status(runID: run.id)).isFinal {
            if withSync {
                let status = try await daemon.sync()
                maximumPending = max(maximumPending, status.pending_samples)
                maximumLag = max(maximumLag, status.lag_s ?? 0)
                polls += 1
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let runTime = clock.now - started
        let samples = try RunStore(readOnlyPath: configuration.databasePath).sampleCount(runID: run.id)
        var line = "  simulated CCD run, sync \(withSync ? "on" : "off"): \(samples) samples in "
        line += "\(formatNumber(seconds(runTime), significantDigits: 3)) s (\(rate(samples, runTime)) samples/s)"
        if withSync {
            let ended = clock.now
            while try await daemon.sync().pending_samples > 0 { try await Task.sleep(for: .milliseconds(50)) }
            line += "; during the run at most \(maximumPending) samples pending, lag at most "
            line += "\(formatNumber(maximumLag, significantDigits: 3)) s (\(polls) polls); all sent "
            line += "\(formatNumber(seconds(clock.now - ended), significantDigits: 3)) s after the run ended"
        }
        print(line)
        await daemon.shutdown()
        _ = await task.result
    }
} catch {
    print("cellrig-bench-sync failed: \(describe(error))")
}
_ = try await withClient(admin) { client in
    try await client.query(
        PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(databaseName) WITH (FORCE)"), logger: logger)
}
try? FileManager.default.removeItem(at: scratch)
