import Control
import ControlServer
import Domain
import Reports
import Storage

/// The control API, answered from the rigs and the database.
extension CellRigDaemon: ControlBackend {
    public func health() async -> HealthInfo {
        HealthInfo(version: CellRigVersion.current, database: configuration.databasePath, rigs: runners.count)
    }

    public func rigs() async -> [RigInfo] {
        var infos: [RigInfo] = []
        for runner in runners.all { infos.append(await runner.info) }
        return infos
    }

    public func runs(limit: Int, before: Int64?) async throws -> RunPage {
        // One more than asked shows whether an older page exists.
        let stored = try store.runSummaries(limit: limit + 1, before: before)
        let summaries = stored.prefix(limit).map { run in
            var summary = RunSummary(
                id: run.id, state: run.state.rawValue, protocol_name: run.protocolName,
                protocol_file: run.protocolFile, rig: run.rigID, cell_label: run.cellLabel,
                created_at: iso8601(run.createdAt), ended_at: run.endedAt.map(iso8601), reason: run.endReason,
                ccd_mA_cm2: run.ccd_mA_cm2, samples: run.samples)
            if let pending = pendingOutcomes[run.id] {  // the database could not take the end yet
                summary.state = pending.state.rawValue
                summary.reason = pending.reason
                summary.ccd_mA_cm2 = pending.ccd_mA_cm2
            }
            return summary
        }
        return RunPage(runs: Array(summaries), next_before: stored.count > limit ? summaries.last?.id : nil)
    }

    public func startRun(_ request: StartRunRequest) async throws -> RunStatus {
        guard let runner = runners[request.rig] else {
            throw ControlFailure.notFound(
                "no rig '\(request.rig)'; rigs here: \(runners.ids.joined(separator: ", "))")
        }
        let runID = try await runner.start(request)
        return try await status(runID: runID)
    }

    public func status(runID: Int64) async throws -> RunStatus {
        do {
            let runner = await runner(of: runID)
            let progress = await runner?.progress(runID: runID)
            let truth = await runner?.liveGroundTruth(runID: runID)
            return try await RunStatusBuilder(store: store, pendingOutcomes: pendingOutcomes)
                .status(runID: runID, progress: progress, truth: truth)
        } catch RunStatusBuilder.StatusError.noSuchRun(let id) {
            throw ControlFailure.notFound("no run \(id)")
        }
    }

    public func abort(runID: Int64) async throws -> RunStatus {
        guard let runner = await runner(of: runID) else {
            let current = try await status(runID: runID)
            throw ControlFailure.conflict("run \(runID) is not running (it is \(current.state))")
        }
        try await runner.requestStop(runID: runID, state: .aborted, reason: "aborted by the operator")
        return try await status(runID: runID)
    }

    public func resume(runID: Int64) async throws -> RunStatus {
        guard let runner = await runner(of: runID) else {
            let current = try await status(runID: runID)
            guard current.state == RunState.interrupted.rawValue, let rigRunner = runners[current.rig] else {
                throw ControlFailure.conflict("run \(runID) is not running (it is \(current.state))")
            }
            // An interrupted run continues by hand, whatever its protocol's on_restart says.
            try await rigRunner.restore(runID: runID, byHand: true)
            return try await status(runID: runID)
        }
        try await runner.resume(runID: runID)
        return try await status(runID: runID)
    }

    public func live(runID: Int64) async throws -> AsyncStream<LiveMessage> {
        let stream = hub.subscribe(runID: runID)
        let current = try await status(runID: runID)
        if current.isFinal {
            hub.publish(.end(current), runID: runID)
        } else if let progress = current.progress {
            hub.publish(.progress(progress), runID: runID)
        }
        return stream
    }

    public func report(runID: Int64, refreshSeconds: Int?) async throws -> String {
        guard try store.run(id: runID) != nil else { throw ControlFailure.notFound("no run \(runID)") }
        // Read and drawn off the rigs' actors, from the database as it is now (a running run's too).
        let store = store
        return try await Task.detached(priority: .utility) {
            ReportHTML.render(try RunReport.load(from: store, runID: runID), refreshSeconds: refreshSeconds)
        }.value
    }

    func runner(of runID: Int64) async -> RigRunner? {
        for runner in runners.all where await runner.runningRunID == runID { return runner }
        return nil
    }
}
