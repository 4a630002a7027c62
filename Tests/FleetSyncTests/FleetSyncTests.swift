import Control
import Daemon
import Domain
import FleetSync
import Foundation
import Logging
import PostgresNIO
import Storage
import TestSupport
import Testing

/// The seed CCD protocol sampled every 10 s instead of 1 s: the same CCD in a tenth of the rows.
func shortCCDProtocol() throws -> String {
    try TestSupport.readRepositoryFile("protocols/ccd-step-symmetric.yaml")
        .replacingOccurrences(of: "sampling_interval: 1 s", with: "sampling_interval: 10 s")
}

@Suite("Fleet sync into PostgreSQL")
struct FleetSyncTests {
    // Two daemons sync their runs into one database: every table's rows per run equal SQLite's, a second sync adds
    // nothing, the views answer the lab's questions, and the CLI lists and exports from it.
    @Test("two daemons into one database: equal counts, a resend adds nothing, views, fleet CLI")
    func twoDaemons() async throws {
        try await TestPostgres.withDatabase { endpoint in
            let bench1 = try await SyncingDaemon.start(
                id: "lab-pc1", endpoint: endpoint, rigs: [try simulatedRig(id: "rig-a")])
            let bench2 = try await SyncingDaemon.start(
                id: "lab-pc2", endpoint: endpoint, rigs: [try simulatedRig(id: "rig-b")])
            // pc1: a three-electrode stripping test, then an impedance spectrum (fitted by the daemon);
            // pc2: a CCD test.
            let strip = try await bench1.startRun(
                "protocols/stripping-3e.yaml", rig: "rig-a", parameters: ["current_density": "3 mA/cm2"])
            let ccd = try await bench2.startRun(
                text: try shortCCDProtocol(), file: "ccd-10s.yaml", rig: "rig-b")
            _ = try await bench1.waitForEnd(strip.id)
            let eis = try await bench1.startRun("protocols/eis-potentiostatic.yaml", rig: "rig-a")
            let eisFinal = try await bench1.waitForEnd(eis.id)
            let ccdFinal = try await bench2.waitForEnd(ccd.id)
            #expect(eisFinal.state == "completed")
            let ccdValue = try #require(ccdFinal.ccd_mA_cm2, "the CCD run found a CCD")
            let fitted = try await TestSupport.eventually {
                try RunStore(readOnlyPath: bench1.databasePath).impedanceFits(runID: eis.id).count == 1
            }
            #expect(fitted, "the daemon fitted the spectrum")
            let ended = Date()
            _ = try await bench1.waitForSync(after: ended)
            _ = try await bench2.waitForSync(after: ended)

            // Row counts per run and table equal the local SQLite counts exactly.
            for bench in [("lab-pc1", bench1), ("lab-pc2", bench2)] {
                let local = try bench.1.localCounts()
                let central = try await centralCounts(endpoint, daemonID: bench.0)
                #expect(central == local, "\(bench.0): central \(central) against local \(local)")
            }
            #expect(try bench1.localCounts()["samples"]?[strip.id] ?? 0 > 10_000)
            #expect(try bench1.localCounts()["impedance"]?[eis.id] == 61)

            // A second sync of the same data (every watermark forgotten) sends it all again and adds nothing.
            await bench1.stop()
            let before = try await centralCounts(endpoint, daemonID: "lab-pc1")
            let store = try RunStore(path: bench1.databasePath)
            try store.resetSyncWatermarks()
            let resent = try await TestPostgres.withClient(endpoint) { client in
                try await FleetSyncEngine(
                    store: store, client: client, daemonID: "lab-pc1", batchSamples: 4_000, logger: TestPostgres.logger
                ).round()
            }
            #expect(resent.samples == before["samples"]?.values.reduce(0, +))
            #expect(resent.resentBatches > 0, "the resent samples met their copies and went through ON CONFLICT")
            #expect(try await centralCounts(endpoint, daemonID: "lab-pc1") == before)
            #expect(try await TestPostgres.count(endpoint, "SELECT COUNT(*) FROM cellrig.run_summary") == 3)

            try await checkViews(
                endpoint, local: try RunStore(readOnlyPath: bench1.databasePath), stripRun: strip.id, eisRun: eis.id)
            try await checkCommandLine(
                endpoint, bench1: bench1, bench2: bench2, runs: (strip.id, eis.id, ccd.id), ccd: ccdValue)
            await bench2.stop()
        }
    }

    /// The three questions the views answer, checked against the daemon's own database.
    func checkViews(_ endpoint: PostgresEndpoint, local: RunStore, stripRun: Int64, eisRun: Int64) async throws {
        // End-of-strip polarisation per cycle: the last sample of every strip step, WE-RE in a 3-electrode cell.
        var lastOfStep: [Int: RecordedSample] = [:]
        try local.forEachSample(runID: stripRun) { lastOfStep[$0.stepIndex] = $0 }
        let stripSteps = try local.steps(runID: stripRun).filter { $0.kind == "strip" }
        #expect(stripSteps.count >= 5, "\(stripSteps.count) stripping half-cycles")
        let view = try await TestPostgres.withClient(endpoint) { client in
            var rows: [Int: (cycle: Int, end: Double, weRe: Double?, polarisation: Double)] = [:]
            let query: PostgresQuery = """
                SELECT step_index, cycle, end_time_s, voltage_we_re_v, polarisation_mv FROM cellrig.strip_polarisation
                WHERE daemon_id = 'lab-pc1' AND run_id = \(stripRun)
                """
            for try await (step, cycle, end, weRe, polarisation) in try await client.query(
                query, logger: TestPostgres.logger
            ).decode((Int, Int, Double, Double?, Double).self) {
                rows[step] = (cycle, end, weRe, polarisation)
            }
            return rows
        }
        #expect(view.count == stripSteps.count)
        for step in stripSteps {
            let last = try #require(lastOfStep[step.index])
            let row = try #require(view[step.index], "strip step \(step.index) in the view")
            #expect(row.cycle == step.cycle)
            #expect(row.end == last.sample.time_s)
            #expect(row.weRe == last.sample.voltageWERE_V)
            #expect(abs(row.polarisation - 1000 * abs(last.sample.voltageWERE_V ?? .nan)) < 1e-9)
        }
        // At 3 mA/cm2 the working electrode voids: its end-of-strip polarisation rises over the cycles.
        let byCycle = view.values.sorted { $0.cycle < $1.cycle }.map(\.polarisation)
        #expect(byCycle.last! > byCycle.first!, "\(byCycle)")

        // Fitted interfacial resistance per spectrum.
        let fit = try #require(try local.impedanceFits(runID: eisRun).first)
        let interface = try await TestPostgres.withClient(endpoint) { client in
            var rows: [(Int, String, Double?)] = []
            let query: PostgresQuery = """
                SELECT step_index, circuit, interface_ohm_cm2 FROM cellrig.interfacial_resistance
                WHERE daemon_id = 'lab-pc1' AND run_id = \(eisRun)
                """
            for try await row in try await client.query(query, logger: TestPostgres.logger).decode(
                (Int, String, Double?).self)
            {
                rows.append(row)
            }
            return rows
        }
        #expect(interface.count == 1)
        #expect(interface.first?.0 == fit.stepIndex)
        #expect(interface.first?.1 == fit.result.circuit.description)
        #expect(interface.first?.2 == fit.result.interface?.perInterface_Ohm_cm2)
    }

    /// `cellrig fleet runs|status|export` and `cellrig sync status`, through the built executable.
    func checkCommandLine(
        _ endpoint: PostgresEndpoint, bench1: SyncingDaemon, bench2: SyncingDaemon, runs: (Int64, Int64, Int64),
        ccd: Double
    ) async throws {
        let environment = ["CELLRIG_FLEET_URL": endpoint.description]
        let list = try await runOnThread("cellrig", ["fleet", "runs"], environment: environment)
        #expect(list.status == 0, "\(list.standardError)")
        let lines = list.standardOutput.split(separator: "\n").dropFirst().map { $0.split(separator: "\t") }
        #expect(lines.count == 3)
        #expect(Set(lines.map { String($0[0]) }) == ["lab-pc1", "lab-pc2"])
        let ccdLine = try #require(lines.first { $0[0] == "lab-pc2" })
        #expect(ccdLine[1] == "\(runs.2)" && ccdLine[6] == "\(formatNumber(ccd))", "\(ccdLine)")
        let filtered = try await runOnThread(
            "cellrig", ["fleet", "runs", "--daemon", "lab-pc1", "--json"], environment: environment)
        let decoded = try JSONDecoder().decode([RunLine].self, from: Data(filtered.standardOutput.utf8))
        #expect(decoded.map(\.run_id).sorted() == [runs.0, runs.1])

        let status = try await runOnThread("cellrig", ["fleet", "status"], environment: environment)
        #expect(status.status == 0, "\(status.standardError)")
        #expect(status.standardOutput.contains("lab-pc1") && status.standardOutput.contains("lab-pc2"))

        // The central export is byte for byte the local one.
        for (run, option) in [(runs.0, "--csv"), (runs.1, "--impedance"), (runs.0, "--bdf")] {
            let central = try await runOnThread(
                "cellrig", ["fleet", "export", "lab-pc1", "\(run)", option, "-"], environment: environment)
            let local = try await runOnThread(
                "cellrig", ["export", "\(run)", option, "-", "--database", bench1.databasePath])
            #expect(central.status == 0, "\(central.standardError)")
            #expect(local.status == 0, "\(local.standardError)")
            #expect(central.standardOutput.count > 1000)
            #expect(central.standardOutput == local.standardOutput, "fleet export \(run) \(option)")
        }

        let sync = try await runOnThread("cellrig", ["sync", "status", "--socket", bench2.socketPath])
        #expect(sync.status == 0, "\(sync.standardError)")
        #expect(sync.standardOutput.contains("daemon 'lab-pc2'") && sync.standardOutput.contains("pending: nothing"))
    }

    struct RunLine: Decodable {
        var daemon_id: String
        var run_id: Int64
    }

    @Test(
        "the server stops mid-run and starts again: the run goes on, the sync resumes, nothing is missing or doubled")
    func serverGoesAway() async throws {
        let server = try await TestSupport.onThread { try PrivatePostgres() }
        do {
            let endpoint = server.endpoint
            // 3 mA/cm2 stripping (30000 s of cell time) at 20 cell seconds per wall second: 25 minutes of wall time,
            // so the run is still going however slowly a loaded machine gets through the server's stop and start
            // (at 200x, 2.5 minutes, it ended first under load); the test aborts it after.
            let bench = try await SyncingDaemon.start(
                id: "lab-pc3", endpoint: endpoint, rigs: [try simulatedRig(id: "slow", speed: .factor(20))])
            let run = try await bench.startRun(
                "protocols/stripping-3e.yaml", rig: "slow", parameters: ["current_density": "3 mA/cm2"])
            let arrived = try await TestSupport.eventually(attempts: 600, interval: .milliseconds(50)) {
                (try? await TestPostgres.count(
                    endpoint, "SELECT COUNT(*) FROM cellrig.samples WHERE run_id = \(run.id)")) ?? 0 > 0
            }
            #expect(arrived, "samples reach the central database while the run goes on")
            try await TestSupport.onThread { try server.stop() }
            let storedAtStop = try RunStore(readOnlyPath: bench.databasePath).sampleCount(runID: run.id)
            var states: Set<String> = []
            let noticed = try await TestSupport.eventually(attempts: 1200, interval: .milliseconds(50)) {
                states.insert(try await bench.status(run.id).state)
                return try await bench.syncStatus().last_error != nil
            }
            #expect(noticed, "the sync reports the lost server")
            try await Task.sleep(for: .seconds(2))
            states.insert(try await bench.status(run.id).state)
            let storedWhileAway = try RunStore(readOnlyPath: bench.databasePath).sampleCount(runID: run.id)
            let pendingWhileAway = try await bench.syncStatus().pending_samples
            #expect(storedWhileAway > storedAtStop, "the bench kept recording while the server was away")
            #expect(pendingWhileAway > 0)
            try await TestSupport.onThread { try server.start() }
            // The run still goes on, so something is always pending: wait for a good round after the restart.
            let restartedAt = Date()
            let resumed = try await TestSupport.eventually(attempts: 1200, interval: .milliseconds(100)) {
                let status = try await bench.syncStatus()
                let through = status.synced_through.flatMap {
                    try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse($0)
                }
                return status.connected && status.consecutive_failures == 0 && (through ?? .distantPast) > restartedAt
            }
            #expect(resumed, "the sync is back once the server is, while the run goes on")
            states.insert(try await bench.status(run.id).state)
            try await bench.abort(run.id)
            let final = try await bench.waitForEnd(run.id)
            #expect(!states.contains("paused"), "the run never paused: \(states)")
            #expect(states == ["running"], "the run was running throughout: \(states)")
            #expect(final.state == "aborted", "\(final.state): \(final.reason ?? "")")
            let sync = try await bench.waitForSync(after: Date())
            #expect(sync.connected)
            #expect(sync.consecutive_failures == 0)
            let local = try bench.localCounts()
            #expect(try await centralCounts(endpoint, daemonID: "lab-pc3") == local)
            let distinct = try await TestPostgres.count(
                endpoint, "SELECT COUNT(DISTINCT seq) FROM cellrig.samples WHERE run_id = \(run.id)")
            #expect(distinct == Int64(local["samples"]?[run.id] ?? -1), "no sample missing, none doubled")
            let maximum = try await TestPostgres.count(
                endpoint, "SELECT MAX(seq) + 1 FROM cellrig.samples WHERE run_id = \(run.id)")
            #expect(maximum == distinct, "seq 0 to the last, without a gap")
            await bench.stop()
        } catch {
            _ = try? await TestSupport.onThread { server.remove() }
            throw error
        }
        try await TestSupport.onThread { server.remove() }
    }

    @Test("the central schema is versioned: migrating twice applies nothing, a newer schema is refused")
    func schemaMigrations() async throws {
        try await TestPostgres.withDatabase { endpoint in
            try await TestPostgres.withClient(endpoint) { client in
                let first = try await FleetSchema.migrate(client, appliedBy: "test", logger: TestPostgres.logger)
                #expect(first == Array(1...FleetSchema.currentVersion))
                let second = try await FleetSchema.migrate(client, appliedBy: "test", logger: TestPostgres.logger)
                #expect(second.isEmpty)
                try await client.query(
                    "INSERT INTO cellrig.schema_migrations (version, name, applied_by) VALUES (999, 'future', 'x')",
                    logger: TestPostgres.logger)
                await #expect(throws: FleetError.self) {
                    try await FleetSchema.migrate(client, appliedBy: "test", logger: TestPostgres.logger)
                }
            }
            let indexes = try await TestPostgres.count(
                endpoint, "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = 'cellrig' AND indexname LIKE 'runs_by_%'")
            #expect(indexes == 5, "runs by cell, rig, protocol hash, protocol name and date")
        }
    }
}

/// Runs a built product on its own thread: a blocked cooperative thread could starve the daemon under test.
func runOnThread(_ name: String, _ arguments: [String], environment: [String: String] = [:]) async throws
    -> TestSupport.ProcessResult
{
    try await TestSupport.onThread { try TestSupport.runProduct(name, arguments, environment: environment) }
}
