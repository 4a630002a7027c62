import Control
import Domain
import Foundation
import Storage

/// Assembles a ``RunStatus`` from the database, with live progress and ground truth when the run is active.
struct RunStatusBuilder {
    let store: RunStore

    func status(runID: Int64, progress: RunProgress?, truth: [GroundTruthEvent]?) async throws -> RunStatus {
        guard let run = try store.run(id: runID) else {
            throw StatusError.noSuchRun(runID)
        }
        let verdicts = try store.events(runID: runID).filter { $0.kind == .verdict }.compactMap(\.verdict)
            .map(VerdictInfo.init)
        let storedTruth = try store.groundTruth(runID: runID)
        let truthEvents = truth ?? storedTruth
        let samples = try progress?.samples ?? store.sampleCount(runID: runID)
        let isSimulated = try store.instruments(runID: runID).contains { $0.port == "in-process" }
        return RunStatus(
            id: run.id, state: run.state.rawValue, protocol_name: run.protocolName, protocol_file: run.protocolFile,
            protocol_sha256: run.protocolSHA256, rig: run.rigID, cell_label: run.cellLabel, area_cm2: run.area_cm2,
            created_at: iso8601(run.createdAt), ended_at: run.endedAt.map(iso8601), reason: run.endReason,
            ccd_mA_cm2: run.ccd_mA_cm2, samples: samples, planned_steps: run.plannedSteps,
            reaction_time_ms: run.reactionTime_s.map { $0 * 1e3 }, progress: progress,
            verdicts: verdicts, truth: isSimulated ? truthEvents.map(TruthInfo.init) : nil)
    }

    enum StatusError: Error {
        case noSuchRun(Int64)
    }
}

func iso8601(_ date: Date) -> String {
    date.formatted(.iso8601)
}
