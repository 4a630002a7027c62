import Domain
import Engine
import Foundation
import ProtocolFiles
import Simulation
import TestSupport
import Testing

/// Runs a protocol through the engine on a ``SimulatedGalvanostat`` as the daemon's run loop does: a batch of
/// samples, each into the engine; on a command, the simulator takes back the rest of the batch and carries it out.
struct SimulatedRun {
    var engine: RunEngine
    var samples: [RecordedSample] = []
    var steps: [StepRecord] = []
    var events: [RunEvent] = []

    static func run(
        _ text: String, cell: some CellModel, area_cm2: Double, limits: HardwareLimits,
        currentWindow_A: Double? = nil
    ) async throws -> SimulatedRun {
        let testProtocol = try ProtocolFile.parse(text, file: "test.yaml")
        var engine = try RunEngine(protocol: testProtocol, area_cm2: area_cm2)
        engine.currentWindow_A = currentWindow_A
        let instrument = SimulatedGalvanostat(model: cell, speed: .unlimited)
        try await instrument.configure(samplingInterval_s: testProtocol.samplingInterval_s, limits: limits)
        var run = SimulatedRun(engine: engine)
        try await run.carryOut(run.engine.start(at: 0), on: instrument)
        while !run.engine.isFinished {
            for sample in try await instrument.nextSamples() {
                let output = run.engine.ingest(sample)
                if output.commands.isEmpty {
                    run.collect(output)
                    continue
                }
                _ = await instrument.rewind(toSampleAt: sample.time_s)
                try await run.carryOut(output, on: instrument)
                break
            }
        }
        return run
    }

    mutating func carryOut(_ output: EngineOutput, on instrument: SimulatedGalvanostat) async throws {
        collect(output)
        for command in output.commands {
            switch command {
            case .applyCurrent(let current): try await instrument.applyCurrent(current)
            case .openCircuit: try await instrument.openCircuit()
            case .applyPotential(let program): try await instrument.applyPotential(program)
            case .setTemperature: break
            case .measureImpedance(let settings):
                let points = try await instrument.measureImpedance(settings)
                try await carryOut(engine.impedanceMeasured(points), on: instrument)
            }
        }
    }

    mutating func collect(_ output: EngineOutput) {
        if let recorded = output.recorded { samples.append(recorded) }
        steps += output.steps.filter { $0.endReason != nil }
        events += output.events
    }

    func samples(inStep index: Int) -> [InstrumentSample] {
        samples.filter { $0.stepIndex == index && !$0.sample.flags.contains(.late) }.map(\.sample)
    }
}

@Suite("Potentiostatic steps on the physics cell")
struct PotentiostaticRunTests {
    static let microelectrode = PhysicsCellParameters.lithiumArgyroditeMicroelectrode
    static let limits = HardwareLimits(voltage_V: 5, current_A: 10e-6)

    /// The current the model's steady interface law gives at `potential_V` vs RE: the potential is the ohmic drop
    /// between WE and RE plus asinh(i / i0) / beta, with i0 = 1 / (R_int beta) and beta = alpha F / RT.
    static func expectedCurrent(atPotential potential_V: Double) -> (sinh: Double, linear: Double) {
        let parameters = microelectrode
        let beta = parameters.chargeTransferAlpha * 96_485.332 / (8.314_462 * (parameters.temperature_C + 273.15))
        let exchange_A_cm2 = 1 / (parameters.interfacialResistance_Ohm_cm2 * beta)
        let ohmic_Ohm_cm2 = parameters.effectiveBulkResistance_Ohm_cm2 * parameters.referenceBulkShare
        var low = -10.0
        var high = 10.0
        for _ in 0..<200 {
            let middle = (low + high) / 2
            if middle * ohmic_Ohm_cm2 + asinh(middle / exchange_A_cm2) / beta > potential_V {
                high = middle
            } else {
                low = middle
            }
        }
        let linear = potential_V / (ohmic_Ohm_cm2 + 1 / (beta * exchange_A_cm2))
        return (low * parameters.electrodeArea_cm2, linear * parameters.electrodeArea_cm2)
    }

    static let cvProtocol = """
        schema: 1
        name: cv
        three_electrode: true
        sampling_interval: 0.05 s
        steps:
          - sweep: {from: 0 mV, vertices: [10 mV, -10 mV], rate: 10 mV/s, cycles: 3}
          - sweep: {from: 0 mV, vertices: [20 mV, -10 mV], rate: 10 mV/s, cycles: 3}
        """

    @Test("a CV at 10 mV/s on the Li microelectrode: vertex currents follow i0 and beta within 5 %, non-linearly")
    func cyclicVoltammetry() async throws {
        let run = try await SimulatedRun.run(
            Self.cvProtocol, cell: PhysicsCell(parameters: Self.microelectrode), area_cm2: 7.854e-7,
            limits: Self.limits)
        #expect(run.engine.outcome?.state == .completed)
        #expect(run.steps.map(\.endReason) == [.duration, .duration])

        // The vertex currents, averaged over each sweep's three cycles: the samples whose WE-RE is nearest the
        // vertex (the sweep turns there).
        func vertexCurrent(step: Int, potential_V: Double) -> (current: Double, reached_V: Double) {
            let samples = run.samples(inStep: step)
            let vertexSamples = samples.filter { abs(($0.voltageWERE_V ?? .nan) - potential_V) < 0.25e-3 }
            let nearest = vertexSamples.map(\.current_A)
            return (nearest.reduce(0, +) / Double(max(nearest.count, 1)), vertexSamples.first?.voltageWERE_V ?? .nan)
        }
        var rows: [(potential: Double, measured: Double, sinh: Double, linear: Double)] = []
        for (step, potential) in [(0, 0.01), (0, -0.01), (1, 0.02), (1, -0.01)] {
            let measured = vertexCurrent(step: step, potential_V: potential)
            let expected = Self.expectedCurrent(atPotential: potential)
            rows.append((potential, measured.current, expected.sinh, expected.linear))
            print(
                "CV vertex \(formatNumber(potential * 1e3)) mV vs RE: measured \(formatNumber(measured.current * 1e9)) nA, "
                    + "sinh law \(formatNumber(expected.sinh * 1e9)) nA, linear \(formatNumber(expected.linear * 1e9)) nA"
            )
            #expect(abs(measured.current / expected.sinh - 1) < 0.05, "vertex \(potential) V")
        }
        // The +20 mV vertex separates the sinh law from a straight line: the model's current is on the sinh side.
        let twenty = rows[2]
        #expect(abs(twenty.measured / twenty.sinh - 1) < 0.01)
        #expect(twenty.measured / twenty.linear - 1 > 0.03, "the CV must bend away from a straight line")
        // The current is what is measured: the WE-RE voltage follows the program.
        let sweep = run.samples(inStep: 0)
        let start = run.steps[0].startTime_s
        let program = PotentialProgram(
            versus: .reference, corners_V: [0, 0.01, -0.01, 0], rate_V_s: 0.01, cycles: 3)
        let worst = sweep.map { abs(($0.voltageWERE_V ?? .nan) - program.potential(atElapsed: $0.time_s - start)) }
            .max()!
        #expect(worst < 1e-5, "WE-RE follows the programmed potential within 10 uV (worst \(worst) V)")
        // Charge still integrates in potential-controlled steps.
        let charge = sweep.dropFirst().indices.reduce(0.0) { total, index in
            total + abs(sweep[index].current_A) * (sweep[index].time_s - sweep[index - 1].time_s)
        }
        #expect(run.steps[0].charge_C > 0.9 * charge && run.steps[0].charge_C < 1.1 * charge + 1e-12)
    }

    @Test("a potentiostatic hold ends on its current limit, and on its cut-off")
    func holdEndsOnCurrentLimit() async throws {
        let text = """
            schema: 1
            name: hold
            three_electrode: true
            sampling_interval: 0.1 s
            steps:
              - potentiostatic: {potential: 5 mV, duration: 10 min, current_limit: 2 nA}
              - potentiostatic: {potential: 0.5 mV, duration: 10 min, current_cutoff: 1 nA}
            """
        let run = try await SimulatedRun.run(
            text, cell: PhysicsCell(parameters: Self.microelectrode), area_cm2: 7.854e-7, limits: Self.limits)
        #expect(run.steps.map(\.endReason) == [.currentLimit, .currentCutoff])
        #expect(run.steps[0].endTime_s! - run.steps[0].startTime_s < 1, "5 mV drives about 3.8 nA at once")
        let last = try #require(run.samples(inStep: 0).last)
        #expect(abs(last.current_A) >= 2e-9)
        #expect(run.engine.outcome?.state == .completed)
    }

    @Test("in a potential-controlled step the voltage window becomes a current window at the rig's limit")
    func currentWindowStopsTheRun() async throws {
        let text = """
            schema: 1
            name: window
            three_electrode: true
            sampling_interval: 0.1 s
            steps:
              - potentiostatic: {potential: 500 mV, duration: 1 min}
            """
        let run = try await SimulatedRun.run(
            text, cell: PhysicsCell(parameters: Self.microelectrode), area_cm2: 7.854e-7,
            limits: HardwareLimits(voltage_V: 5, current_A: 1e-6), currentWindow_A: 1e-6)
        #expect(run.engine.outcome?.state == .stopped)
        #expect(run.engine.outcome?.verdict?.criterion == "current-window")
        #expect(run.samples.allSatisfy { abs($0.sample.current_A) <= 1e-6 * (1 + 1e-9) }, "the compliance holds")
    }

    @Test("a rest ends once |dV/dt| has stayed below its rate for its time, not before")
    func restEndsOnRelaxation() async throws {
        // After a plating step on the K cell the voltage relaxes with the interfaces' slow share (4 s) and the
        // nucleation transient; the rest ends once a 30 s fit of V(t) is flatter than 0.1 mV/min.
        let text = """
            schema: 1
            name: relax
            sampling_interval: 1 s
            steps:
              - plate: {current_density: 1 mA/cm2, duration: 60 s}
              - rest: {duration: 1 h, until: dV/dt < 0.1 mV/min for 30 s}
            """
        var parameters = PhysicsCellParameters.potassiumBetaAlumina.withoutNoise
        parameters.relaxationTime_s = 20
        let run = try await SimulatedRun.run(
            text, cell: PhysicsCell(parameters: parameters), area_cm2: 0.196,
            limits: HardwareLimits(voltage_V: 5, current_A: 0.02))
        #expect(run.steps.map(\.endReason) == [.duration, .relaxed])
        let rest = run.steps[1]
        let length = rest.endTime_s! - rest.startTime_s
        #expect(length >= 30 && length < 3600, "ended on the rule, after at least its hold (\(length) s)")
        // Over the last 30 s the voltage moved by less than 0.1 mV/min x 0.5 min; over the first 30 s by far more.
        let samples = run.samples(inStep: 1)
        let tail = samples.filter { $0.time_s >= rest.endTime_s! - 30 }
        #expect(abs(tail.last!.voltage_V - tail.first!.voltage_V) < 0.05e-3 * 1.5)
        #expect(abs(samples[30].voltage_V - samples[0].voltage_V) > 0.05e-3)
    }

    @Test("the shipped rate-capability test strips back its charge at low currents and hits the 1.0 V cut-off at high")
    func rateCapability() async throws {
        let path = "protocols/rate-capability-microelectrode.yaml"
        let run = try await SimulatedRun.run(
            try TestSupport.readRepositoryFile(path), cell: PhysicsCell(parameters: Self.microelectrode),
            area_cm2: 7.854e-7, limits: Self.limits)
        #expect(run.engine.outcome?.state == .completed)
        let strips = run.steps.filter { $0.step.kind == .strip }
        #expect(strips.count == 10)
        for strip in strips {
            print(
                "strip at \(formatNumber(strip.step.current_A * 1e9)) nA: \(strip.endReason!.rawValue) after "
                    + "\(formatNumber(strip.charge_C * 1e9, significantDigits: 4)) nC")
        }
        // 10 nA for 60 s deposits 600 nC; up to 1 uA it all comes back, at 5 uA the spreading resistance alone
        // (about 1.4 V) takes the WE past the cut-off at once.
        #expect(strips.prefix(8).allSatisfy { $0.endReason == .capacity })
        #expect(strips.last?.endReason == .voltageLimit)
        #expect(run.steps.filter { $0.step.kind == .rest }.allSatisfy { $0.endReason == .relaxed })
        #expect(run.steps.last?.step.kind == .potentiostatic)
    }
    @Test("late samples of the previous output push a sweep's start back: the sweep runs its whole length after them")
    func lateSamplesDelayTheSweep() throws {
        let text = """
            schema: 1
            name: hold-then-sweep
            sampling_interval: 0.1 s
            steps:
              - potentiostatic: {potential: 100 mV, duration: 1 s}
              - sweep: {from: 0 mV, vertices: [200 mV], to: 0 mV, rate: 200 mV/s}
            """
        var engine = try RunEngine(protocol: try ProtocolFile.parse(text, file: "test.yaml"), area_cm2: 1)
        _ = engine.start(at: 0)
        var tick = 0
        func sample() -> InstrumentSample {
            tick += 1
            return InstrumentSample(time_s: Double(tick) / 10, current_A: 1e-4, voltage_V: 0.1)
        }
        var commands: [InstrumentCommand] = []
        for _ in 0..<10 { commands += engine.ingest(sample()).commands }
        #expect(commands.count == 1 && engine.currentStep?.step.kind == .sweep, "the hold ended on its duration")
        // The driver stopped the hold's script 3 s of instrument time later (a host that stalled): 30 late samples.
        for _ in 0..<30 { _ = engine.recordLate(sample()) }
        var sweepSamples = 0
        while !engine.isFinished, sweepSamples < 100 {
            sweepSamples += 1
            _ = engine.ingest(sample())
        }
        #expect(engine.outcome?.state == .completed)
        #expect(sweepSamples == 20, "the 2 s sweep got its 20 points after the late ones, not 1")
    }
}
