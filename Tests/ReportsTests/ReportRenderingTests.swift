import Domain
import Foundation
import Storage
import TestSupport
import Testing

@testable import Reports

@Suite("Report plotting pieces")
struct PlotPieceTests {
    @Test("linear axes tick at 1, 2 or 5 times a power of ten and cover the data")
    func linearTicks() {
        let volts = Axis.linear(covering: [-0.42, 0.61], title: "Voltage / V")
        #expect(volts.step == 0.2)
        #expect(volts.minimum <= -0.42 && volts.maximum >= 0.61)
        #expect(volts.ticks.allSatisfy { abs(($0 / 0.2).rounded() * 0.2 - $0) < 1e-12 })
        #expect(Axis.linear(covering: [0, 64.4], title: "t", exact: true).ticks == [0, 10, 20, 30, 40, 50, 60])
        #expect(Axis.linear(covering: [0, 0.033], title: "x").step == 0.005)
        #expect(Axis.linear(covering: [0, 7300], title: "x").step == 1000)
        let positive = Axis.linear(covering: [43, 54], title: "mV", includeZero: true)
        #expect(positive.minimum == 0, "all-positive data start at zero, not below it")
        #expect(Axis.linear(covering: [0.12, 0.13], title: "x").label(0.125) == "0.125")
    }

    @Test("logarithmic axes tick at decades, with 2..9 minor ticks, labelled plainly")
    func logarithmicTicks() {
        let frequency = Axis.logarithmic(covering: [1, 1e6], title: "Frequency / Hz")
        #expect(frequency.ticks == [1, 10, 100, 1000, 1e4, 1e5, 1e6])
        #expect(frequency.minorTicks.count == 6 * 8)
        #expect(frequency.label(1000) == "1000" && frequency.label(1e6) == "10\u{2076}")
        #expect(Axis.logarithmic(covering: [0.05, 3], title: "f").ticks == [0.01, 0.1, 1, 10])
    }

    @Test("decimation keeps a one-sample spike and at most four points per column")
    func decimationKeepsSpikes() {
        var decimator = MinMaxDecimator(start: 0, end: 1_000_000, buckets: 800)
        for index in 0...1_000_000 {
            let value = index == 523_417 ? 5.0 : sin(Double(index) / 5000)
            decimator.add(Double(index), value)
        }
        let points = decimator.points
        #expect(points.count <= 4 * 800)
        #expect(points.contains { $0.0 == 523_417 && $0.1 == 5 })
        #expect(zip(points, points.dropFirst()).allSatisfy { $0.0 < $1.0 }, "in time order")
        var short = MinMaxDecimator(start: 0, end: 10, buckets: 800)
        for index in 0...10 { short.add(Double(index), Double(index)) }
        #expect(short.points.count == 11, "a short series is kept whole")
    }

    @Test("lines break across a pause in the data")
    func linesBreakAtGaps() {
        let runs = SVGFigure.runs([(0, 1), (1, 1), (2, 1), (20, 1), (21, 1), (22, .nan), (23, 1)], gap: 5)
        #expect(runs.map(\.count) == [3, 2, 1])
    }
}

@Suite("Report size for a long run")
struct LongRunReportTests {
    /// A 72 h step-current run sampled every second: 259,200 samples, 36 cycles of two half-cycles.
    @Test("a 72 h run at 1 s (259,200 samples) renders to well under 2 MB, with data in every figure")
    func seventyTwoHours() throws {
        let directory = try TestSupport.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try RunStore(path: directory.appendingPathComponent("long.sqlite").path)
        let cell = CellDescription(label: "long", metal: .k, electrolyte: "K-beta''-alumina", electrodeArea_cm2: 0.196)
        let rig = RigDescription(
            id: "sim", name: "Sim", cell: cell, limits: HardwareLimits(voltage_V: 5, current_A: 0.02),
            galvanostat: .simulated(SimulatedCellConfiguration()))
        let halfCycle = 3600.0
        let total = 259_200
        let stepCount = total / Int(halfCycle)
        let plan = StepPlan(
            steps: (0..<stepCount).map { index in
                PlannedStep(
                    index: index, cycle: index / 2 + 1, stepInCycle: index % 2 + 1,
                    kind: index % 2 == 0 ? .plate : .strip,
                    current_A: (index % 2 == 0 ? -1 : 1) * 1e-4, currentDensity_mA_cm2: 0.51, durationLimit_s: halfCycle
                )
            }, area_cm2: 0.196)
        let start = RunStart(
            protocolName: "long", protocolFile: "long.yaml", protocolText: "schema: 1\nname: long\n", rig: rig,
            cell: cell, area_cm2: 0.196, plan: plan, instruments: [])
        let runID = try store.createRun(start, threeElectrode: false)
        var random = SystemRandomNumberGenerator()
        var batch: [RecordedSample] = []
        for seq in 0..<total {
            let step = seq / Int(halfCycle)
            let sign: Double = step % 2 == 0 ? -1 : 1
            let time = Double(seq + 1)
            let voltage =
                sign * (0.05 + 0.01 * Double(step) / Double(stepCount))
                + Double.random(in: -1e-4...1e-4, using: &random)
            batch.append(
                RecordedSample(
                    seq: seq,
                    sample: InstrumentSample(
                        time_s: time, current_A: sign * 1e-4, voltage_V: voltage, pressure_MPa: 2.5,
                        temperature_C: 20),
                    stepIndex: step, cycle: step / 2 + 1))
            if batch.count == 20_000 || seq == total - 1 {
                try store.append(runID: runID, samples: batch, steps: [], events: [])
                batch.removeAll(keepingCapacity: true)
            }
        }
        try store.append(
            runID: runID, samples: [],
            steps: (0..<stepCount).map { index in
                StepRecordRow(
                    index: index, cycle: index / 2 + 1, kind: index % 2 == 0 ? "plate" : "strip",
                    current_A: (index % 2 == 0 ? -1 : 1) * 1e-4, currentDensity_mA_cm2: 0.51,
                    startTime_s: Double(index) * halfCycle, endTime_s: Double(index + 1) * halfCycle,
                    endReason: "duration", charge_C: 0.36)
            }, events: [])
        try store.finishRun(runID, outcome: RunOutcome(state: .completed, reason: "all steps ran"))

        let report = try RunReport.load(from: try RunStore(readOnlyPath: store.path), runID: runID)
        #expect(report.sampleCount == total)
        let html = ReportHTML.render(report)
        let size = html.utf8.count
        #expect(size < 2_000_000, "\(size) bytes")
        #expect(html.contains("id=\"fig-cycling\"") && html.contains("id=\"fig-stripping\""))
        #expect(!html.contains("<script") && !html.contains(" src=") && !html.contains("href="))
        // The whole run is drawn: the voltage trace reaches the last hour.
        #expect(report.voltage.last!.0 == Double(total))
        #expect(report.voltage.count <= 4 * RunReport.plotColumns)
    }
}
