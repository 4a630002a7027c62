import Domain
import Engine
import Foundation

/// The cost of judging: `engine.ingest` per sample with the shipped symmetric CCD protocol's `stop:` list, and the
/// reaction time from the tripping sample to the open-circuit command, on one shorted run of each family at 1 s.
func printTiming(families: [BenchFamily]) {
    let clock = ContinuousClock()
    var all: [Double] = []
    var tripping: [Double] = []
    for family in families {
        for seed in 0..<3 {
            var scenario = scenarios(family).first { $0.interval_s == 1 && $0.shorted && $0.schedule == .symmetric }!
            scenario.seed += UInt64(seed) * 7919
            guard var setUp = try? setUp(scenario), let shipped = shippedStopLists[.symmetric] else { continue }
            var testProtocol = setUp.testProtocol
            testProtocol.stopCriteria = shipped.stopCriteria
            testProtocol.conditions = shipped.conditions
            guard var engine = try? RunEngine(protocol: testProtocol, area_cm2: setUp.area_cm2) else { continue }
            var current_A = 0.0
            for command in engine.start(at: 0).commands {
                if case .applyCurrent(let value) = command { current_A = value }
            }
            var endAfter_s = Double.infinity
            var time_s = 0.0
            while !engine.isFinished, time_s < endAfter_s {
                let sample = setUp.cell.advance(by: scenario.interval_s, current_A: current_A)
                time_s = sample.time_s
                let start = clock.now
                let output = engine.ingest(sample)
                let elapsed = seconds(start.duration(to: clock.now))
                all.append(elapsed)
                for command in output.commands {
                    current_A = command.cellCurrent(after: current_A)
                }
                if output.outcome?.state == .stopped { tripping.append(elapsed) }
                if endAfter_s == .infinity, let onset = setUp.cell.onset_s { endAfter_s = onset + 900 }
            }
        }
    }
    let whole = wholeRunIngestCost(families: families, withCriteria: true)
    let bare = wholeRunIngestCost(families: families, withCriteria: false)
    let judging = zip(whole, bare).map { $0 - $1 }
    print(
        "engine.ingest per sample, whole short-free runs at 1 s of each family (\(whole.count) samples, release):")
    print(
        "  with the shipped ccd-step-symmetric stop list (kept from acting): "
            + "median \(cell(percentile(whole, 0.5).map { $0 * 1e6 })) us, "
            + "p99 \(cell(percentile(whole, 0.99).map { $0 * 1e6 })) us")
    print(
        "  no criteria, the same samples: median \(cell(percentile(bare, 0.5).map { $0 * 1e6 })) us, "
            + "p99 \(cell(percentile(bare, 0.99).map { $0 * 1e6 })) us")
    print(
        "  the criteria's share, sample by sample: median \(cell(percentile(judging, 0.5).map { $0 * 1e6 })) us, "
            + "p99 \(cell(percentile(judging, 0.99).map { $0 * 1e6 })) us (target <= 3 us)")
    print(
        "engine.ingest per sample with the same list acting, up to its stop (\(all.count) samples): "
            + "median \(cell(percentile(all, 0.5).map { $0 * 1e6 })) us, "
            + "p99 \(cell(percentile(all, 0.99).map { $0 * 1e6 })) us")
    print(
        "reaction time, engine.ingest of the tripping sample to the open-circuit command (\(tripping.count) stops): "
            + "median \(cell(percentile(tripping, 0.5).map { $0 * 1e6 })) us, "
            + "max \(cell(tripping.max().map { $0 * 1e6 })) us")
}

/// Runs whose criteria never act, so every sample of the plan is judged: the steady cost of judging.
struct SilentCriterion: StopCriterion {
    var inner: any StopCriterion
    var name: String { inner.name }
    var detectsShort: Bool { false }
    mutating func stepStarted(_ context: StepContext) { inner.stepStarted(context) }
    mutating func stepResumed(_ context: StepContext) { inner.stepResumed(context) }
    mutating func evaluate(_ sample: InstrumentSample, context: StepContext) -> Verdict? {
        _ = inner.evaluate(sample, context: context)
        return nil
    }
}

/// engine.ingest's cost per sample over a short-free run at 1 s of each family, with the shipped list (silent) or
/// none; the cell is seeded, so both calls see the same samples.
func wholeRunIngestCost(families: [BenchFamily], withCriteria: Bool) -> [Double] {
    let clock = ContinuousClock()
    var all: [Double] = []
    guard let shipped = shippedStopLists[.symmetric] else { return all }
    let context = RunContext().completed(with: shipped.conditions)
    for family in families {
        let scenario = scenarios(family).first { $0.interval_s == 1 && !$0.shorted && $0.schedule == .symmetric }!
        guard var setUp = try? setUp(scenario),
            let criteria = try? shipped.stopCriteria.map({ try CriterionFactory.make($0, context: context) }),
            let plan = try? StepPlan(expanding: setUp.testProtocol, area_cm2: setUp.area_cm2)
        else { continue }
        var engine = RunEngine(
            plan: plan, threeElectrode: false,
            criteria: withCriteria ? criteria.map { SilentCriterion(inner: $0) } : [], context: context)
        var current_A = 0.0
        for command in engine.start(at: 0).commands {
            if case .applyCurrent(let value) = command { current_A = value }
        }
        while !engine.isFinished {
            let sample = setUp.cell.advance(by: scenario.interval_s, current_A: current_A)
            let start = clock.now
            let output = engine.ingest(sample)
            all.append(seconds(start.duration(to: clock.now)))
            for command in output.commands {
                current_A = command.cellCurrent(after: current_A)
            }
        }
    }
    return all
}

/// Prints a scenario's samples (time, current, voltage, WE-RE) for a look at a family's traces.
func printTrace(_ scenario: Scenario, every: Int, from: Double, to: Double) throws {
    var setUp = try setUp(scenario)
    let plan = try StepPlan(expanding: setUp.testProtocol, area_cm2: setUp.area_cm2)
    var engine = RunEngine(plan: plan, threeElectrode: setUp.testProtocol.threeElectrode, criteria: [])
    var current_A = 0.0
    func apply(_ output: EngineOutput) {
        for command in output.commands {
            current_A = command.cellCurrent(after: current_A)
        }
    }
    apply(engine.start(at: 0))
    print("# \(scenario.label)")
    var index = 0
    var endAfter_s = Double.infinity
    var time_s = 0.0
    while !engine.isFinished, time_s < min(to, endAfter_s) {
        let sample = setUp.cell.advance(by: scenario.interval_s, current_A: current_A)
        time_s = sample.time_s
        if time_s >= from, index % every == 0 {
            print(
                "\(formatNumber(time_s, significantDigits: 8)) \(formatNumber(sample.current_A, significantDigits: 4)) "
                    + "\(formatNumber(sample.voltage_V * 1e3, significantDigits: 6)) "
                    + "\(sample.voltageWERE_V.map { formatNumber($0 * 1e3, significantDigits: 6) } ?? "-")")
        }
        index += 1
        apply(engine.ingest(sample))
        if endAfter_s == .infinity, let onset = setUp.cell.onset_s {
            endAfter_s = onset + 900
            print("# onset \(formatNumber(onset, significantDigits: 8))")
        }
    }
}

/// Prints dendrite-short's view of every sample between `from` and `to` in a scenario (its schedule's watch).
func printDump(_ scenario: Scenario, from: Double, to: Double) throws {
    var setUp = try setUp(scenario)
    let plan = try StepPlan(expanding: setUp.testProtocol, area_cm2: setUp.area_cm2)
    let watch: PlatingWatch = scenario.schedule == .symmetric ? .both : .plate
    var criterion = DendriteShortCriterion(
        settings: .init(during: watch, minimumDrop_V: 3e-4, memory_s: 60, noiseFloor_V: 1e-5))
    var engine = RunEngine(plan: plan, threeElectrode: setUp.testProtocol.threeElectrode, criteria: [])
    var current_A = 0.0
    var stepIndex = -1
    func apply(_ output: EngineOutput) {
        for command in output.commands {
            current_A = command.cellCurrent(after: current_A)
        }
    }
    apply(engine.start(at: 0))
    print("# \(scenario.label)")
    var endAfter_s = Double.infinity
    var time_s = 0.0
    while !engine.isFinished, time_s < min(to, endAfter_s) {
        let sample = setUp.cell.advance(by: scenario.interval_s, current_A: current_A)
        time_s = sample.time_s
        guard let record = engine.currentStep else { break }
        if record.step.index != stepIndex {
            stepIndex = record.step.index
            criterion.stepStarted(
                StepContext(
                    step: record.step, startTime_s: record.startTime_s, area_cm2: setUp.area_cm2,
                    threeElectrode: false))
        }
        let output = engine.ingest(sample)
        let context = StepContext(
            step: record.step, startTime_s: record.startTime_s, elapsed_s: time_s - record.startTime_s,
            sampleCount: Int(((time_s - record.startTime_s) / scenario.interval_s).rounded()), area_cm2: setUp.area_cm2,
            threeElectrode: false)
        let verdict = criterion.evaluate(sample, context: context)
        if time_s >= from, let latest = criterion.latest, latest.time_s == time_s {
            print(
                "t=\(formatNumber(time_s, significantDigits: 8)) step \(record.step.index) "
                    + "V=\(formatNumber(latest.observed_V * 1e3, significantDigits: 6)) "
                    + "exp=\(formatNumber(latest.expected_V * 1e3, significantDigits: 6)) "
                    + "spread=\(formatNumber(latest.spread_V * 1e6, significantDigits: 3))uV "
                    + "noise=\(formatNumber(latest.noise_V * 1e6, significantDigits: 3)) "
                    + "dis=\(formatNumber(latest.disagreement_V * 1e6, significantDigits: 3)) "
                    + "allow=\(formatNumber(latest.allowance_V * 1e6, significantDigits: 3)) "
                    + "cusum=\(formatNumber(latest.cusum, significantDigits: 3)) "
                    + "inc=\(formatNumber(latest.incrementSum, significantDigits: 3)) "
                    + "settled=\(latest.settled_V.map { formatNumber($0 * 1e3, significantDigits: 5) } ?? "-") "
                    + "fall=\(formatNumber(latest.fall, significantDigits: 3)) judged=\(latest.judged)"
                    + (verdict.map { " VERDICT \($0.action.rawValue): \($0.reason)" } ?? ""))
        }
        apply(output)
        if endAfter_s == .infinity, let onset = setUp.cell.onset_s {
            endAfter_s = onset + 900
            print("# onset \(formatNumber(onset, significantDigits: 8))")
        }
    }
}
