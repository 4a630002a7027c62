import Control
import Domain
import Engine
import Foundation
import Storage

/// Assembles a ``RunStatus`` from the database, with live progress and ground truth when the run is active.
struct RunStatusBuilder {
    let store: RunStore
    /// Outcomes the database did not take (a full disk); they win over the stored state.
    var pendingOutcomes: PendingOutcomes?

    func status(runID: Int64, progress: RunProgress?, truth: [GroundTruthEvent]?) async throws -> RunStatus {
        guard var run = try store.run(id: runID) else {
            throw StatusError.noSuchRun(runID)
        }
        if !run.state.isFinal, let pending = pendingOutcomes?[runID] {
            run.state = pending.state
            run.endReason = pending.reason
            run.ccd_mA_cm2 = pending.ccd_mA_cm2
        }
        let events = try store.events(runID: runID)
        let verdicts = events.filter { $0.kind == .verdict }.compactMap(\.verdict).map(VerdictInfo.init)
        let results = try store.plan(runID: runID).map { RunResultsInfo(RunResults(events: events, plan: $0)) }
        let storedTruth = try store.groundTruth(runID: runID)
        let truthEvents = truth ?? storedTruth
        let samples = try progress?.samples ?? store.sampleCount(runID: runID)
        let flagged = try store.flaggedSampleCounts(runID: runID)
        let isSimulated = try store.instruments(runID: runID).contains { $0.port == "in-process" }
        let fits = Dictionary(
            try store.impedanceFits(runID: runID).map { ($0.stepIndex, $0.result) },
            uniquingKeysWith: { first, _ in first })
        let spectra = Dictionary(grouping: try store.spectra(runID: runID), by: \.stepIndex).sorted { $0.key < $1.key }
            .map { step, stored in
                var info = SpectrumInfo(step: step, cycle: stored[0].cycle, points: stored.map(\.point))
                info.fit = fits[step].map(SpectrumFitInfo.init)
                return info
            }
        return RunStatus(
            id: run.id, state: run.state.rawValue, protocol_name: run.protocolName, protocol_file: run.protocolFile,
            protocol_sha256: run.protocolSHA256, rig: run.rigID, cell_label: run.cellLabel, area_cm2: run.area_cm2,
            created_at: iso8601(run.createdAt), ended_at: run.endedAt.map(iso8601), reason: run.endReason,
            ccd_mA_cm2: run.ccd_mA_cm2, samples: samples, planned_steps: run.plannedSteps,
            reaction_time_ms: run.reactionTime_s.map { $0 * 1e3 },
            cell_off_confirmed_ms: run.cellOffConfirmed_s.map { $0 * 1e3 },
            discarded_readings: progress == nil ? run.discardedReadings : nil,
            flagged_samples: flagged.isEmpty ? nil : flagged, progress: progress,
            verdicts: verdicts, results: results, truth: isSimulated ? truthEvents.map(TruthInfo.init) : nil,
            spectra: spectra.isEmpty ? nil : spectra)
    }

    enum StatusError: Error {
        case noSuchRun(Int64)
    }
}

func iso8601(_ date: Date) -> String {
    date.formatted(.iso8601)
}

extension RunResultsInfo {
    init(_ results: RunResults) {
        self.init(
            ccd: results.criticalCurrent.map {
                CriticalCurrentInfo(
                    current_density_mA_cm2: $0.currentDensity_mA_cm2, criterion: $0.criterion,
                    onset_time_s: $0.onsetTime_s, detection_time_s: $0.detectionTime_s, evidence: $0.verdict.evidence)
            },
            voiding: results.voiding.map {
                VoidingInfo(
                    current_density_mA_cm2: $0.currentDensity_mA_cm2, stripping_steps: $0.strippingSteps,
                    flagged_steps: $0.flaggedSteps, voided: $0.voided)
            })
    }
}
