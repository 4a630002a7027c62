// Benchmark of the live stop criteria on simulated cells with known failure onsets.
//
//   cellrig-bench-criteria           the full set (short, no-short, voiding, no-voiding runs), scores and reaction time
//   cellrig-bench-criteria quick     one run in four (for a fast look)
//
// Every run drives a PhysicsCell through a RunEngine at a fixed sampling interval. The criteria under test are
// wrapped so that they record their verdicts without stopping the run; each is scored against the simulator's
// ground truth: detection, false alarms before the onset (or in runs without one), and latency from the true onset
// in cell seconds, samples and charge passed. Short criteria are scored on every run, the stripping series
// included: their onset is the dendrite's initiation wherever one happens, and a stop in a run without one is a
// false alarm. The voiding criterion is scored on the stripping series.

import Domain
import Engine
import Foundation
import ProtocolFiles
import Simulation
import Synchronization

// MARK: - Scenarios

enum Failure: String {
    case short
    case voiding
}

struct Scenario {
    var preset: String
    var noise_V: Double
    var spikeProbability: Double
    var interval_s: Double
    var seed: UInt64
    /// The kind of test (CCD schedule or stripping series) and whether the cell is made to fail.
    var test: Failure
    var fails: Bool

    var label: String {
        "\(preset) \(test.rawValue)\(fails ? "" : "-free") dt=\(formatNumber(interval_s)) s "
            + "noise=\(formatNumber(noise_V * 1e6)) uV spikes=\(formatNumber(spikeProbability))"
    }
}

func scenarios() -> [Scenario] {
    var list: [Scenario] = []
    var seed: UInt64 = 1
    for preset in PhysicsCellParameters.presetNames {
        for interval in [0.1, 1.0, 10.0] {
            for noise in [2e-5, 5e-5, 2e-4] {
                for spikes in [0.0, 1e-4, 1e-3] {
                    for fails in [true, false] {
                        list.append(
                            Scenario(
                                preset: preset, noise_V: noise, spikeProbability: spikes, interval_s: interval,
                                seed: seed, test: .short, fails: fails))
                        seed += 1
                    }
                }
            }
            for noise in [5e-5, 2e-4] {
                for spikes in [0.0, 1e-3] {
                    for fails in [true, false] {
                        list.append(
                            Scenario(
                                preset: preset, noise_V: noise, spikeProbability: spikes, interval_s: interval,
                                seed: seed, test: .voiding, fails: fails))
                        seed += 1
                    }
                }
            }
        }
    }
    return list
}

/// The cell and the protocol of a scenario.
func setUp(_ scenario: Scenario) throws -> (PhysicsCell, TestProtocol) {
    var parameters = try PhysicsCellParameters.preset(named: scenario.preset)
    parameters.seed = scenario.seed
    parameters.voltageNoise_V = scenario.noise_V
    parameters.voltageSpikeProbability = scenario.spikeProbability
    let ccd = parameters.dendriteCCD_mA_cm2
    let text: String
    switch scenario.test {
    case .short:
        // Symmetric CCD schedule starting three increments below the cell's CCD; a short-free cell gets a CCD
        // three times higher and runs the same currents.
        if !scenario.fails { parameters.dendriteCCD_mA_cm2 = 3 * ccd }
        let increment = ccd / 48
        let start = ccd - 3 * increment
        let capacity = 0.05 * ccd
        text = """
            schema: 1
            name: bench-ccd
            sampling_interval: \(scenario.interval_s) s
            steps:
              - loop:
                  current:
                    start: \(start) mA/cm2
                    increment: \(increment) mA/cm2
                    maximum: \(start + 5.5 * increment) mA/cm2
                  steps:
                    - plate:
                        capacity: \(capacity) mAh/cm2
                    - strip:
                        capacity: \(capacity) mAh/cm2
            """
    case .voiding:
        parameters.isThreeElectrode = true
        let threshold =
            parameters.voidingCurrentDensity_mA_cm2
            * pow(parameters.stackPressure_MPa / parameters.referencePressure_MPa, parameters.voidingPressureExponent)
        let density = (scenario.fails ? 1.6 : 0.5) * threshold
        text = """
            schema: 1
            name: bench-stripping
            three_electrode: true
            sampling_interval: \(scenario.interval_s) s
            steps:
              - loop:
                  cycles: 3
                  current: \(density) mA/cm2
                  steps:
                    - plate:
                        capacity: 0.5 mAh/cm2
                    - strip:
                        capacity: 0.5 mAh/cm2
                        voltage_limit: 1 V
            """
    }
    return (PhysicsCell(parameters: parameters), try ProtocolFile.parse(text, file: "bench"))
}

// MARK: - Criteria under test

struct Candidate {
    var label: String
    var declaration: String
    var scores: Failure
}

let candidates: [Candidate] = [
    Candidate(label: "dendrite-short", declaration: "dendrite-short: {during: both}", scores: .short),
    Candidate(label: "hard-short", declaration: "hard-short: {during: both}", scores: .short),
    Candidate(
        label: "voltage-drop 2 mV (seed 004)", declaration: "voltage-drop: {drop: 2 mV, during: both}", scores: .short),
    Candidate(
        label: "voltage-drop 2 mV, ignore-first 30 s",
        declaration: "voltage-drop: {drop: 2 mV, during: both, ignore-first: 30 s}", scores: .short),
    Candidate(label: "voiding", declaration: "voiding: {}", scores: .voiding),
]

func declarations() throws -> [CriterionDeclaration] {
    let text =
        "schema: 1\nname: c\nsteps:\n  - rest: {duration: 1 s}\nstop:\n"
        + candidates.map { "  - \($0.declaration)\n" }.joined()
    return try ProtocolFile.parse(text, file: "candidates").stopCriteria
}

/// Verdicts recorded by the wrapped criteria, by candidate index.
final class VerdictLog: Sendable {
    struct Entry {
        var candidate: Int
        var stepIndex: Int
        var verdict: Verdict
    }

    let entries = Mutex<[Entry]>([])
}

/// Runs a criterion but never lets it act: its verdicts go to the log and the engine sees `continue`.
struct RecordingCriterion: StopCriterion {
    var inner: any StopCriterion
    let candidate: Int
    let log: VerdictLog
    var name: String { inner.name }
    var detectsShort: Bool { false }

    mutating func stepStarted(_ context: StepContext) { inner.stepStarted(context) }

    mutating func evaluate(_ sample: InstrumentSample, context: StepContext) -> Verdict? {
        let verdict = inner.evaluate(sample, context: context)
        if let window = dumpWindow, sample.time_s >= window.lowerBound, sample.time_s <= window.upperBound,
            let model = inner as? DendriteShortCriterion, let latest = model.latest, latest.time_s == sample.time_s
        {
            print(
                "dump t=\(formatNumber(sample.time_s, significantDigits: 7)) step \(context.step.index) "
                    + "n=\(context.sampleCount) V=\(formatNumber(latest.observed_V * 1e3, significantDigits: 6)) "
                    + "exp=\(formatNumber(latest.expected_V * 1e3, significantDigits: 6)) "
                    + "res=\(formatNumber((latest.observed_V - latest.expected_V) * 1e6, significantDigits: 4)) uV "
                    + "spread=\(formatNumber(latest.spread_V * 1e6, significantDigits: 3)) "
                    + "allow=\(formatNumber(latest.allowance_V * 1e6, significantDigits: 3)) "
                    + "noise=\(formatNumber(latest.noise_V * 1e6, significantDigits: 3)) "
                    + "disagree=\(formatNumber(latest.disagreement_V * 1e6, significantDigits: 3)) "
                    + "cusum=\(formatNumber(latest.cusum, significantDigits: 3)) "
                    + "inc=\(formatNumber(latest.incrementSum, significantDigits: 3)) judged=\(latest.judged)"
                    + (verdict != nil ? " VERDICT" : ""))
        }
        if let verdict, verdict.action != .continue {
            log.entries.withLock {
                $0.append(.init(candidate: candidate, stepIndex: context.step.index, verdict: verdict))
            }
        }
        return nil
    }
}

// MARK: - Running

struct RunScore {
    var scenario: Scenario
    /// The true onset of the failure each kind of criterion looks for: the dendrite's initiation, the WE's voiding.
    var onsets: [Failure: Double]
    /// Cell time the run lasted.
    var duration_s: Double
    /// Per candidate: false alarms, and the first verdict at or after the onset with its latency.
    var falseAlarms: [Int]
    var detections: [(time_s: Double, samples: Int, charge_uAh_cm2: Double, onsetError_s: Double?)?]

    /// Whether a candidate is scored on this run: short criteria on every run, voiding on the stripping series.
    func scores(_ candidate: Candidate) -> Bool { candidate.scores == .short || scenario.test == .voiding }

    /// Cell hours before the failure a candidate looks for (all of the run without one).
    func cleanHours(_ candidate: Candidate) -> Double { (onsets[candidate.scores] ?? duration_s) / 3600 }
}

func run(_ scenario: Scenario, criteria: [CriterionDeclaration]) throws -> RunScore {
    var (cell, testProtocol) = try setUp(scenario)
    let log = VerdictLog()
    var wrapped: [any StopCriterion] = []
    for (index, declaration) in criteria.enumerated() {
        wrapped.append(
            RecordingCriterion(inner: try CriterionFactory.make(declaration), candidate: index, log: log))
    }
    let plan = try StepPlan(expanding: testProtocol, area_cm2: cell.parameters.electrodeArea_cm2)
    var engine = RunEngine(plan: plan, threeElectrode: testProtocol.threeElectrode, criteria: wrapped)
    var current_A = 0.0
    func apply(_ output: EngineOutput) {
        for command in output.commands {
            switch command {
            case .applyCurrent(let value): current_A = value
            case .openCircuit, .measureImpedance, .applyPotential: current_A = 0
            }
        }
    }
    apply(engine.start(at: 0))
    var trace: [(time_s: Double, charge: Double)] = []
    var charge_mAh_cm2 = 0.0
    let area = cell.parameters.electrodeArea_cm2
    var endAfter_s = Double.infinity
    let traced = tracing == scenario.label
    while !engine.isFinished, cell.time_s < endAfter_s {
        let reading = cell.advance(by: scenario.interval_s, current_A: current_A)
        if traced, traceEvery > 0 ? trace.count % traceEvery == 0 : trace.count < 60 {
            print(
                "trace t=\(reading.time_s) I=\(reading.current_A) V=\(reading.voltage_V) WE-RE=\(reading.voltageWERE_V ?? .nan)"
            )
        }
        charge_mAh_cm2 += abs(current_A) * scenario.interval_s / 3.6 / area
        trace.append((reading.time_s, charge_mAh_cm2))
        apply(
            engine.ingest(
                InstrumentSample(
                    time_s: reading.time_s, current_A: reading.current_A, voltage_V: reading.voltage_V,
                    voltageWERE_V: reading.voltageWERE_V, pressure_MPa: reading.pressure_MPa,
                    temperature_C: reading.temperature_C)))
        if endAfter_s == .infinity, let hard = cell.groundTruth.first(where: { $0.kind == .hardShort }) {
            endAfter_s = hard.time_s + 60
        }
    }
    var onsets: [Failure: Double] = [:]
    onsets[.short] = cell.groundTruth.first { $0.kind == .dendriteInitiation }?.time_s
    if scenario.test == .voiding {
        onsets[.voiding] = cell.groundTruth.first { $0.kind == .voidingOnset && $0.electrode == "WE" }?.time_s
    }
    let entries = log.entries.withLock { $0 }
    var falseAlarms = [Int](repeating: 0, count: criteria.count)
    var detections: [(time_s: Double, samples: Int, charge_uAh_cm2: Double, onsetError_s: Double?)?] = Array(
        repeating: nil, count: criteria.count)
    for candidate in criteria.indices {
        let onset = onsets[candidates[candidate].scores]
        var stepsWithAlarm = Set<Int>()
        for entry in entries where entry.candidate == candidate {
            let alarm = entry.verdict.action == .stop || candidates[candidate].scores == .voiding
            guard alarm else { continue }
            if let onset, entry.verdict.time_s >= onset {
                if detections[candidate] == nil, falseAlarms[candidate] == 0 {
                    let samples = trace.filter { $0.time_s >= onset && $0.time_s <= entry.verdict.time_s }.count
                    let atOnset = trace.last { $0.time_s <= onset }?.charge ?? 0
                    let atDetection = trace.last { $0.time_s <= entry.verdict.time_s }?.charge ?? 0
                    detections[candidate] = (
                        entry.verdict.time_s - onset, samples, (atDetection - atOnset) * 1000,
                        entry.verdict.onsetTime_s.map { $0 - onset }
                    )
                }
            } else if stepsWithAlarm.insert(entry.stepIndex).inserted {
                falseAlarms[candidate] += 1
                if explain.contains(candidates[candidate].label) {
                    let evidence = entry.verdict.evidence.keys.sorted().map {
                        "\($0)=\(formatNumber(entry.verdict.evidence[$0]!, significantDigits: 4))"
                    }
                    print(
                        "  false alarm \(scenario.label) step \(entry.stepIndex): \(entry.verdict.reason) "
                            + evidence.joined(separator: " "))
                }
            }
        }
    }
    return RunScore(
        scenario: scenario, onsets: onsets, duration_s: cell.time_s, falseAlarms: falseAlarms,
        detections: detections)
}

/// Reaction time: engine.ingest of the sample that trips a stop, up to the open-circuit command it returns.
func reactionTimes(_ list: [Scenario]) throws -> (tripping: [Double], all: [Double]) {
    let clock = ContinuousClock()
    var tripping: [Double] = []
    var all: [Double] = []
    let stopList = try ProtocolFile.parse(
        "schema: 1\nname: r\nsteps:\n  - rest: {duration: 1 s}\nstop:\n  - dendrite-short: {during: both}\n"
            + "  - hard-short: {during: both}\n  - voltage-window: {}\n", file: "reaction"
    ).stopCriteria
    for scenario in list where scenario.test == .short && scenario.fails {
        var (cell, testProtocol) = try setUp(scenario)
        testProtocol.stopCriteria = stopList
        var engine = try RunEngine(protocol: testProtocol, area_cm2: cell.parameters.electrodeArea_cm2)
        var current_A = 0.0
        for command in engine.start(at: 0).commands {
            if case .applyCurrent(let value) = command { current_A = value }
        }
        while !engine.isFinished {
            let reading = cell.advance(by: scenario.interval_s, current_A: current_A)
            let sample = InstrumentSample(
                time_s: reading.time_s, current_A: reading.current_A, voltage_V: reading.voltage_V,
                voltageWERE_V: reading.voltageWERE_V, pressure_MPa: reading.pressure_MPa,
                temperature_C: reading.temperature_C)
            let started = clock.now
            let output = engine.ingest(sample)
            let elapsed = seconds(started.duration(to: clock.now))
            all.append(elapsed)
            for command in output.commands {
                switch command {
                case .applyCurrent(let value): current_A = value
                case .openCircuit, .measureImpedance, .applyPotential: current_A = 0
                }
            }
            if output.outcome?.state == .stopped { tripping.append(elapsed) }
        }
    }
    return (tripping, all)
}

// MARK: - Report

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}

func percentile(_ values: [Double], _ fraction: Double) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let position = fraction * Double(sorted.count - 1)
    let lower = Int(position.rounded(.down))
    let upper = min(lower + 1, sorted.count - 1)
    return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - Double(lower))
}

func cell(_ value: Double?, _ digits: Int = 3) -> String {
    guard let value else { return "-" }
    return formatNumber(value, significantDigits: digits)
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

func printTable(_ scores: [RunScore], title: String) {
    print(title)
    print(
        pad("criterion", 38) + pad("detected", 12) + pad("rate", 8) + pad("false (strip)", 14) + pad("FA/100h", 9)
            + pad("latency s med/p95", 20) + pad("samples med/p95", 17) + pad("uAh/cm2 med/p95", 17)
            + "onset error s med/min/max")
    for (index, candidate) in candidates.enumerated() {
        let relevant = scores.filter { $0.scores(candidate) }
        let failing = relevant.filter { $0.onsets[candidate.scores] != nil }
        let detected = failing.compactMap { $0.detections[index] }
        let falseAlarms = relevant.map { $0.falseAlarms[index] }.reduce(0, +)
        let stripping = relevant.filter { $0.scenario.test == .voiding }.map { $0.falseAlarms[index] }.reduce(0, +)
        let hours = relevant.map { $0.cleanHours(candidate) }.reduce(0, +)
        let rate = failing.isEmpty ? nil : 100 * Double(detected.count) / Double(failing.count)
        let times = detected.map(\.time_s)
        let samples = detected.map { Double($0.samples) }
        let charges = detected.map(\.charge_uAh_cm2)
        let onsetErrors = detected.compactMap(\.onsetError_s)
        print(
            pad(candidate.label, 38) + pad("\(detected.count)/\(failing.count)", 12) + pad(cell(rate, 4) + "%", 8)
                + pad("\(falseAlarms) (\(stripping))", 14)
                + pad(cell(hours > 0 ? 100 * Double(falseAlarms) / hours : nil), 9)
                + pad("\(cell(percentile(times, 0.5))) / \(cell(percentile(times, 0.95)))", 20)
                + pad("\(cell(percentile(samples, 0.5))) / \(cell(percentile(samples, 0.95)))", 17)
                + pad("\(cell(percentile(charges, 0.5))) / \(cell(percentile(charges, 0.95)))", 17)
                + "\(cell(percentile(onsetErrors, 0.5))) / \(cell(onsetErrors.min())) / \(cell(onsetErrors.max()))")
    }
}

let quick = CommandLine.arguments.dropFirst().first == "quick"
/// `explain=LABEL` prints every false alarm of that candidate with its evidence.
let tracing = CommandLine.arguments.first { $0.hasPrefix("trace=") }.map { String($0.dropFirst(6)) }
/// `every=N` with `trace=LABEL` prints every N-th reading of the whole run instead of the first 60.
let traceEvery = CommandLine.arguments.first { $0.hasPrefix("every=") }.flatMap { Int($0.dropFirst(6)) } ?? 0
let explain = CommandLine.arguments.filter { $0.hasPrefix("explain=") }.map { String($0.dropFirst(8)) }
let verbose = CommandLine.arguments.contains("verbose")
/// `dump=LABEL` with `window=FROM,TO` prints dendrite-short's view of every sample in that cell-time window.
let dumpLabel = CommandLine.arguments.first { $0.hasPrefix("dump=") }.map { String($0.dropFirst(5)) }
let dumpRange: ClosedRange<Double>? = CommandLine.arguments.first { $0.hasPrefix("window=") }.flatMap { argument in
    let bounds = argument.dropFirst(7).split(separator: ",").compactMap { Double($0) }
    return bounds.count == 2 ? bounds[0]...bounds[1] : nil
}
nonisolated(unsafe) var dumpWindow: ClosedRange<Double>?
var list = scenarios()
if quick { list = list.enumerated().filter { ($0.offset / 2) % 4 == 0 }.map(\.element) }
let criteria = try declarations()
let clock = ContinuousClock()
let started = clock.now
var scores: [RunScore] = []
if let dumpLabel { list = list.filter { $0.label == dumpLabel } }
/// `only=TEXT` keeps the runs whose label contains TEXT (`only=voiding`, `only="dt=0.1 s"`).
for only in CommandLine.arguments where only.hasPrefix("only=") {
    list = list.filter { $0.label.contains(only.dropFirst(5)) }
}
for scenario in list {
    dumpWindow = dumpLabel == scenario.label ? (dumpRange ?? 0...Double.infinity) : nil
    let score = try run(scenario, criteria: criteria)
    scores.append(score)
    if verbose {
        let marks = candidates.indices.map { index in
            let detection = score.detections[index].map { "\(cell($0.time_s)) s/\($0.samples)" } ?? "-"
            return "\(candidates[index].label.prefix(14)): FA \(score.falseAlarms[index]) det \(detection)"
        }
        let onsets = "short \(cell(score.onsets[.short])), voiding \(cell(score.onsets[.voiding]))"
        print("\(scenario.label) onsets \(onsets): " + marks.joined(separator: "; "))
    }
}
let scoring_s = seconds(started.duration(to: clock.now))
let failing = scores.filter { !$0.onsets.isEmpty }.count
let cellHours = scores.map(\.duration_s).reduce(0, +) / 3600
print(
    "cellrig-bench-criteria: \(scores.count) simulated runs (\(failing) with a short or voiding onset), presets "
        + "\(PhysicsCellParameters.presetNames.joined(separator: ", ")), sampling 0.1/1/10 s, noise 20/50/200 uV, "
        + "spike probability 0/1e-4/1e-3; \(cell(cellHours)) cell-hours; scored in "
        + "\(cell(scoring_s)) s wall")
print(
    "short criteria scored on every run (CCD schedules and stripping series), voiding on the stripping series; "
        + "latency from the true onset (dendrite initiation; voiding onset at the WE); false alarms before it or in "
        + "runs without one, counted once per step, (strip) those in the stripping series; onset error: the verdict's "
        + "estimated onset minus the true one")
print("")
printTable(scores, title: "All runs")
for interval in [0.1, 1.0, 10.0] {
    print("")
    printTable(
        scores.filter { $0.scenario.interval_s == interval }, title: "Sampling every \(formatNumber(interval)) s")
}
print("")
let (tripping, all) = try reactionTimes(list)
print(
    "reaction time, engine.ingest of the tripping sample to the open-circuit command (\(tripping.count) stops): "
        + "median \(cell(percentile(tripping, 0.5).map { $0 * 1e6 })) us, "
        + "p99 \(cell(percentile(tripping, 0.99).map { $0 * 1e6 })) us, "
        + "max \(cell(tripping.max().map { $0 * 1e6 })) us")
print(
    "engine.ingest per sample with dendrite-short, hard-short, voltage-window (\(all.count) samples): "
        + "median \(cell(percentile(all, 0.5).map { $0 * 1e6 })) us, p99 \(cell(percentile(all, 0.99).map { $0 * 1e6 })) us"
)
