import Domain
import Engine
import Foundation
import ProtocolFiles
import Synchronization

/// A stop rule under test: one criterion, or a protocol's whole `stop:` list (its first `stop` counts).
struct Candidate: Sendable {
    var label: String
    /// The acceptance figures apply to it (the shipped protocols and the model-based criteria).
    var judged: Bool
    /// Builds the candidate's criteria for one run.
    var make: @Sendable (Scenario, RunSetUp) throws -> [any StopCriterion]
}

/// The shipped protocols' `stop:` lists, read once.
let shippedStopLists: [Schedule: TestProtocol] = {
    var lists: [Schedule: TestProtocol] = [:]
    for schedule in Schedule.allCases {
        let path = schedule.shippedProtocol
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let parsed = try? ProtocolFile.parse(text, file: path)
        else {
            fatalError("cellrig-bench-criteria runs from the repository root: cannot read \(path)")
        }
        lists[schedule] = parsed
    }
    return lists
}()

/// Parses one criterion's declaration, wrapped in a protocol with a step of every kind it may judge (the parser
/// refuses a criterion that judges none of a protocol's steps).
func declaration(_ text: String) throws -> CriterionDeclaration {
    let protocolText =
        "schema: 1\nname: c\nsteps:\n  - plate: {current_density: 1 mA/cm2, duration: 1 s}\n"
        + "  - strip: {current_density: 1 mA/cm2, duration: 1 s}\nstop:\n  - \(text)\n"
    return try ProtocolFile.parse(protocolText, file: "candidate").stopCriteria[0]
}

func single(_ label: String, judged: Bool = false, _ text: @escaping @Sendable (Schedule) -> String) -> Candidate {
    Candidate(label: label, judged: judged) { scenario, _ in
        [try CriterionFactory.make(try declaration(text(scenario.schedule)))]
    }
}

/// The candidates every run scores.
let baseCandidates: [Candidate] = [
    Candidate(label: "shipped protocol (replay: no rig file)", judged: true) { scenario, _ in
        let shipped = shippedStopLists[scenario.schedule]!
        let context = RunContext().completed(with: shipped.conditions)
        return try shipped.stopCriteria.map { try CriterionFactory.make($0, context: context) }
    },
    single("dendrite-short", judged: true) { "dendrite-short: {during: \($0.watch)}" },
    single("hard-short (learned reference)") { "hard-short: {during: \($0.watch)}" },
    single("voltage-drop 2 mV (seed 004 rule)") { "voltage-drop: {drop: 2 mV, during: \($0.watch)}" },
    single("voltage-drop 2 mV, ignore-first 30 s") {
        "voltage-drop: {drop: 2 mV, during: \($0.watch), ignore-first: 30 s}"
    },
]

/// Verdicts the wrapped criteria gave, with the sample they came at.
final class VerdictLog: Sendable {
    struct Entry {
        var candidate: Int
        var sampleIndex: Int
        var verdict: Verdict
    }

    let entries = Mutex<[Entry]>([])
    let sampleIndex = Atomic<Int>(0)
}

/// Runs a criterion but never lets it act: its stops go to the log and the engine sees `continue`.
struct RecordingCriterion: StopCriterion {
    var inner: any StopCriterion
    let candidate: Int
    let log: VerdictLog
    var name: String { inner.name }
    var detectsShort: Bool { false }

    mutating func stepStarted(_ context: StepContext) { inner.stepStarted(context) }

    mutating func stepResumed(_ context: StepContext) { inner.stepResumed(context) }

    mutating func evaluate(_ sample: InstrumentSample, context: StepContext) -> Verdict? {
        guard let verdict = inner.evaluate(sample, context: context), verdict.action == .stop else { return nil }
        let index = log.sampleIndex.load(ordering: .relaxed)
        log.entries.withLock { $0.append(.init(candidate: candidate, sampleIndex: index, verdict: verdict)) }
        return nil
    }
}

/// What one candidate did in one run.
enum Outcome: Sendable {
    /// Stopped at or after the short's onset: latency in samples (the tripping one counted), seconds and charge.
    case detected(samples: Int, seconds: Double, charge_uAh_cm2: Double)
    /// Stopped a shorted cell before its short began.
    case early
    /// Never stopped a shorted cell.
    case missed
    /// Stopped a short-free cell.
    case falseAlarm
    /// Left a short-free cell alone.
    case clean
}

struct RunScore: Sendable {
    var scenario: Scenario
    var onset_s: Double?
    var duration_s: Double
    var samples: Int
    var outcomes: [Outcome]
    /// The first stop of each candidate, for `explain=`.
    var stops: [Verdict?]
}

/// Runs one scenario to the end of its plan (or 15 min after its short began) with every candidate recording.
func run(_ scenario: Scenario, candidates: [Candidate]) throws -> RunScore {
    var setUp = try setUp(scenario)
    let log = VerdictLog()
    var wrapped: [any StopCriterion] = []
    for (index, candidate) in candidates.enumerated() {
        for criterion in try candidate.make(scenario, setUp) {
            wrapped.append(RecordingCriterion(inner: criterion, candidate: index, log: log))
        }
    }
    let testProtocol = setUp.testProtocol
    let plan = try StepPlan(expanding: testProtocol, area_cm2: setUp.area_cm2)
    var engine = RunEngine(plan: plan, threeElectrode: testProtocol.threeElectrode, criteria: wrapped)
    var current_A = 0.0
    func apply(_ output: EngineOutput) {
        for command in output.commands {
            current_A = command.cellCurrent(after: current_A)
        }
    }
    apply(engine.start(at: 0))
    var times: [Double] = []
    var charges: [Double] = []
    var charge_mAh_cm2 = 0.0
    let interval = scenario.interval_s
    var time_s = 0.0
    var endAfter_s = Double.infinity
    while !engine.isFinished, time_s < endAfter_s {
        let sample = setUp.cell.advance(by: interval, current_A: current_A)
        time_s = sample.time_s
        charge_mAh_cm2 += abs(current_A) * interval / 3.6 / setUp.area_cm2
        log.sampleIndex.store(times.count, ordering: .relaxed)
        times.append(time_s)
        charges.append(charge_mAh_cm2)
        apply(engine.ingest(sample))
        if endAfter_s == .infinity, let onset = setUp.cell.onset_s {
            endAfter_s = onset + max(900, 40 * interval)
        }
    }
    let onset = setUp.cell.onset_s
    let entries = log.entries.withLock { $0 }
    var outcomes: [Outcome] = []
    var stops: [Verdict?] = []
    for candidate in candidates.indices {
        let first = entries.first { $0.candidate == candidate }
        stops.append(first?.verdict)
        guard let first else {
            outcomes.append(onset == nil ? .clean : .missed)
            continue
        }
        guard let onset else {
            outcomes.append(.falseAlarm)
            continue
        }
        let stopTime = times[first.sampleIndex]
        guard stopTime >= onset else {
            outcomes.append(.early)
            continue
        }
        let firstAfterOnset = times.firstIndex { $0 >= onset } ?? first.sampleIndex
        let chargeAtOnset = firstAfterOnset > 0 ? charges[firstAfterOnset - 1] : 0
        outcomes.append(
            .detected(
                samples: first.sampleIndex - firstAfterOnset + 1, seconds: stopTime - onset,
                charge_uAh_cm2: (charges[first.sampleIndex] - chargeAtOnset) * 1000))
    }
    return RunScore(
        scenario: scenario, onset_s: onset, duration_s: time_s, samples: times.count, outcomes: outcomes, stops: stops)
}

/// Runs scenarios on every core, in a stable order.
func runAll(_ list: [Scenario], candidates: [Candidate], progress: Bool) -> [RunScore] {
    let results = Mutex<[Int: RunScore]>([:])
    let next = Atomic<Int>(0)
    let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
    DispatchQueue.concurrentPerform(iterations: workers) { _ in
        while true {
            let index = next.add(1, ordering: .relaxed).oldValue
            guard index < list.count else { return }
            do {
                let score = try run(list[index], candidates: candidates)
                results.withLock { $0[index] = score }
                if progress { printProgress(score, candidates: candidates) }
            } catch {
                fatalError("\(list[index].label): \(error)")
            }
        }
    }
    return results.withLock { map in list.indices.map { map[$0]! } }
}

let printLock = Mutex<Void>(())

func printProgress(_ score: RunScore, candidates: [Candidate]) {
    let marks = candidates.indices.map { index -> String in
        let mark: String
        switch score.outcomes[index] {
        case .detected(let samples, _, _): mark = "det \(samples)"
        case .early: mark = "EARLY"
        case .missed: mark = "MISSED"
        case .falseAlarm: mark = "FALSE"
        case .clean: mark = "ok"
        }
        return "\(candidates[index].label.prefix(16)): \(mark)"
    }
    printLock.withLock { _ in
        print(
            "\(score.scenario.label) onset \(score.onset_s.map { formatNumber($0, significantDigits: 6) } ?? "-"): "
                + marks.joined(separator: "; "))
    }
}
