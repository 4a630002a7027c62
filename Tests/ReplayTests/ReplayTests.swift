import Domain
import Engine
import ProtocolFiles
import Replay
import Simulation
import Testing

@Suite("Replay of a run with an impedance step")
struct ImpedanceReplayTests {
    static let protocolText = """
        schema: 1
        name: replay-eis
        sampling_interval: 1 s
        steps:
          - rest: {duration: 5 s}
          - impedance: {control: galvanostatic, from: 1 kHz, to: 1 Hz, points_per_decade: 2, amplitude: 10 uA}
          - plate: {current_density: 1 mA/cm2, duration: 20 s}
          - rest: {duration: 5 s}
        stop:
          - voltage-drop: {drop: 0.01 mV, during: plate, action: warn}
        """

    @Test("the steps after a spectrum start and end where the live run had them, though the samples hold no spectrum")
    func stepsMatch() throws {
        let testProtocol = try ProtocolFile.parse(Self.protocolText, file: "replay-eis")
        var cell = try PhysicsCell(preset: "k-beta-alumina", overrides: ["seed": 3])
        var engine = try RunEngine(protocol: testProtocol, area_cm2: cell.parameters.electrodeArea_cm2)
        var current_A = 0.0
        var samples: [InstrumentSample] = []
        var liveSteps: [StepRecord] = []
        var liveVerdicts: [Verdict] = []
        var pending: [EngineOutput] = [engine.start(at: 0)]
        while !pending.isEmpty || !engine.isFinished {
            guard !pending.isEmpty else {
                let reading = cell.advance(by: 1, current_A: current_A)
                samples.append(reading)
                pending.append(engine.ingest(reading))
                continue
            }
            let output = pending.removeFirst()
            liveSteps += output.steps
            liveVerdicts += output.events.compactMap(\.verdict).filter { $0.action == .warn }
            for command in output.commands {
                switch command {
                case .applyCurrent(let value): current_A = value
                case .openCircuit, .applyPotential: current_A = 0
                case .measureImpedance(let settings):
                    current_A = 0
                    let points = cell.measureSpectrum(settings, startTime_s: engine.latestTime_s)
                    pending.append(engine.impedanceMeasured(points))
                case .setTemperature: break
                }
            }
        }
        #expect(liveSteps.contains { $0.step.kind == .impedance && $0.endReason == .measured })
        #expect(!liveVerdicts.isEmpty, "the plating step warns, so the comparison has verdicts to compare")

        var replay = try ReplayDriver(
            protocolText: Self.protocolText, file: "replay-eis", area_cm2: cell.parameters.electrodeArea_cm2)
        for sample in samples { replay.feed(sample) }
        let report = replay.report
        func boundaries(_ steps: [StepRecord]) -> [String] {
            steps.filter { $0.endTime_s != nil }.map {
                "\($0.step.index) \($0.step.kind.rawValue) \($0.startTime_s) \($0.endTime_s!) \($0.endReason!.rawValue)"
            }
        }
        #expect(boundaries(report.steps) == boundaries(liveSteps))
        #expect(report.verdicts.map(\.verdict) == liveVerdicts)
    }
}

@Suite("Replay gives the live run's verdicts")
struct ReplayTests {
    /// A short symmetric CCD test near the K preset's CCD, with every short criterion and a voiding warning.
    static let protocolText = """
        schema: 1
        name: replay-ccd
        sampling_interval: 1 s
        steps:
          - loop:
              current:
                start: 4.5 mA/cm2
                increment: 0.1 mA/cm2
                maximum: 5.5 mA/cm2
              steps:
                - plate:
                    capacity: 0.25 mAh/cm2
                - strip:
                    capacity: 0.25 mAh/cm2
        stop:
          - dendrite-short: {during: both}
          - hard-short: {during: both}
          - voltage-drop: {drop: 2 mV, during: both, ignore-first: 30 s, action: warn}
          - voiding: {during: both}
        """

    /// Runs the engine live over a simulated K cell; returns the recorded samples, the events and the outcome.
    func liveRun() throws -> (samples: [RecordedSample], events: [RunEvent], outcome: RunOutcome?) {
        let testProtocol = try ProtocolFile.parse(Self.protocolText, file: "replay-ccd")
        var cell = try PhysicsCell(preset: "k-beta-alumina", overrides: ["seed": 7])
        var engine = try RunEngine(protocol: testProtocol, area_cm2: cell.parameters.electrodeArea_cm2)
        var current_A = 0.0
        var samples: [RecordedSample] = []
        var events: [RunEvent] = []
        func apply(_ output: EngineOutput) {
            events += output.events
            if let recorded = output.recorded { samples.append(recorded) }
            for command in output.commands { current_A = command.cellCurrent(after: current_A) }
        }
        apply(engine.start(at: 0))
        while !engine.isFinished {
            let reading = cell.advance(by: 1, current_A: current_A)
            apply(
                engine.ingest(
                    InstrumentSample(
                        time_s: reading.time_s, current_A: reading.current_A, voltage_V: reading.voltage_V,
                        voltageWERE_V: reading.voltageWERE_V, pressure_MPa: reading.pressure_MPa,
                        temperature_C: reading.temperature_C)))
        }
        return (samples, events, engine.outcome)
    }

    /// The export format of `cellrig export --csv`, with full-precision numbers.
    func exportCSV(_ samples: [RecordedSample]) -> String {
        var text = "seq,time_s,current_A,voltage_V,voltage_we_re_V,pressure_MPa,temperature_C,cycle,step\n"
        for recorded in samples {
            let sample = recorded.sample
            let fields = [
                String(recorded.seq), String(sample.time_s), String(sample.current_A), String(sample.voltage_V),
                sample.voltageWERE_V.map { String($0) } ?? "", sample.pressure_MPa.map { String($0) } ?? "",
                sample.temperature_C.map { String($0) } ?? "", String(recorded.cycle), String(recorded.stepIndex),
            ]
            text += fields.joined(separator: ",") + "\n"
        }
        return text
    }

    @Test("exported samples replayed through the same protocol give the same verdicts, steps and outcome")
    func replayMatchesLive() throws {
        let live = try liveRun()
        let liveVerdicts = live.events.compactMap { $0.kind == .verdict ? $0.verdict : nil }
        #expect(live.outcome?.state == .stopped, "the K cell shorts within the schedule")
        #expect(live.outcome?.verdict?.criterion == "dendrite-short")
        #expect(!liveVerdicts.isEmpty)

        let samples = try SampleCSVReader.samples(in: exportCSV(live.samples), source: "live.csv")
        #expect(samples == live.samples.map(\.sample))
        let testProtocol = try ProtocolFile.parse(Self.protocolText, file: "replay-ccd")
        let engine = try RunEngine(protocol: testProtocol, area_cm2: 0.196)
        let report = ReplayDriver.replay(samples, engine: engine)

        #expect(report.verdicts.map(\.verdict) == liveVerdicts)
        #expect(report.outcome == live.outcome)
        #expect(report.events == live.events)
        #expect(report.samplesAfterEnd == 0)
        let ccd = try #require(report.results.criticalCurrent)
        #expect(ccd.currentDensity_mA_cm2 == live.outcome?.ccd_mA_cm2)
        #expect(ccd.criterion == "dendrite-short")
    }

    @Test("replay resumes a paused step where the samples show its current again")
    func pauseAndResume() throws {
        let text = """
            schema: 1
            name: pause
            conditions:
              stack_pressure: 2.5 MPa
            steps:
              - plate: {current: 1 mA, duration: 10 s}
            stop:
              - stack-pressure: {band: 0.5 MPa, hold: 2 s}
            """
        let testProtocol = try ProtocolFile.parse(text, file: "pause")
        var samples: [InstrumentSample] = []
        var time = 0.0
        func add(_ current: Double, _ pressure: Double, count: Int) {
            for _ in 0..<count {
                time += 1
                samples.append(
                    InstrumentSample(time_s: time, current_A: current, voltage_V: -0.1, pressure_MPa: pressure))
            }
        }
        add(-1e-3, 2.5, count: 4)
        add(-1e-3, 1.0, count: 3)  // out of band: pauses on the third sample
        add(0, 2.5, count: 5)  // paused at open circuit
        add(-1e-3, 2.5, count: 7)  // resumed: 3 more seconds of current end the step
        let report = ReplayDriver.replay(
            samples, engine: try RunEngine(protocol: testProtocol, area_cm2: 1))
        #expect(report.verdicts.map(\.verdict.action) == [.pause])
        #expect(report.resumes == 1)
        #expect(report.outcome?.state == .completed)
        let step = try #require(report.steps.last)
        #expect(step.endReason == .duration)
        #expect(step.endTime_s == 15, "10 s of plating: 7 before the pause, 5 s paused, 3 after it")
        #expect(report.samplesAfterEnd == 4)
    }
}
