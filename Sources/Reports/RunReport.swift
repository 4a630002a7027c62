public import Domain
import Foundation
import ImpedanceAnalysis
public import Storage

/// Everything a run report draws, read from the store in one pass over the samples and already reduced to what
/// the figures can show. A running run reads the same way: the report shows what is stored so far.
public struct RunReport: Sendable {
    public var run: StoredRun
    public var protocolText: String
    public var parameters: [String: String]
    public var cell: CellDescription?
    public var rig: RigDescription?
    public var instruments: [InstrumentIdentity]
    public var plan: StepPlan?
    public var steps: [StepRecordRow]
    public var events: [RunEvent]
    public var truth: [GroundTruthEvent]
    public var sampleCount: Int
    public var timeRange: ClosedRange<Double>?
    /// The typical time between two samples (the median of the first few thousand intervals), s.
    public var samplingInterval_s: Double = 1

    /// Decimated series against cell time (s): cell voltage and WE-RE in V, current density in mA/cm2 (signed,
    /// positive strips the WE), stack pressure in MPa, temperature in C.
    public var voltage: [(Double, Double)] = []
    public var voltageWERE: [(Double, Double)] = []
    public var currentDensity: [(Double, Double)] = []
    public var pressure: [(Double, Double)] = []
    public var temperature: [(Double, Double)] = []
    /// The window around the stop at full resolution (what the whole-run plot cannot show).
    public var stopWindow: ClosedRange<Double>?
    public var stopVoltage: [(Double, Double)] = []
    public var stopVoltageWERE: [(Double, Double)] = []
    /// The verdict that stopped the run, and the sample that tripped it (time, cell voltage).
    public var stopVerdict: Verdict?
    public var trippingSample: (time_s: Double, voltage_V: Double)?

    /// A stripping series: every strip step's polarisation against time since its start.
    public var strips: [StripCurve] = []
    /// True when the strips show WE-RE (three-electrode), false for the cell voltage.
    public var stripsUseWERE = false

    public var spectra: [SpectrumReport] = []

    /// Cell time since the run's first sample, s, for a sample time.
    public var origin_s: Double { timeRange?.lowerBound ?? 0 }
}

/// One strip step of a stripping series.
public struct StripCurve: Sendable {
    public var stepIndex: Int
    public var cycle: Int
    public var currentDensity_mA_cm2: Double
    /// (time since the step started in s, polarisation in V).
    public var points: [(Double, Double)]
    /// The last judged reading of the step, V.
    public var endValue_V: Double?
}

/// One impedance step: its points and the fit shown with them.
public struct SpectrumReport: Sendable {
    public enum FitSource: String, Sendable {
        /// Read from the `impedance_fits` table.
        case stored
        /// Fitted while making the report (the protocol named a circuit; no fit was stored).
        case computed
    }

    public var stepIndex: Int
    public var cycle: Int
    public var points: [ImpedancePoint]
    public var fit: ImpedanceFitResult?
    public var fitSource: FitSource?
    /// Why no fit is shown, when none is.
    public var fitProblem: String?
}

/// Why a report cannot be made.
public struct ReportError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

extension RunReport {
    /// Pixel columns the whole-run plots are decimated to (the plot area of a 960-unit figure).
    static let plotColumns = 860

    /// Reads run `runID` from `store` and reduces its samples for drawing.
    public static func load(from store: RunStore, runID: Int64) throws -> RunReport {
        guard let run = try store.run(id: runID) else { throw ReportError("no run \(runID) in \(store.path)") }
        let recorded = try store.recordedProtocol(runID: runID)
        var report = RunReport(
            run: run, protocolText: recorded?.text ?? run.protocolText, parameters: recorded?.parameters ?? [:],
            cell: recorded?.cell, rig: try store.rig(runID: runID), instruments: try store.instruments(runID: runID),
            plan: try store.plan(runID: runID), steps: try store.steps(runID: runID),
            events: try store.events(runID: runID), truth: try store.groundTruth(runID: runID), sampleCount: 0,
            timeRange: try store.sampleTimeRange(runID: runID))
        report.stopVerdict = report.events.compactMap(\.verdict).first { $0.action == .stop }
        try report.readSamples(from: store)
        try report.readSpectra(from: store)
        return report
    }

    private mutating func readSamples(from store: RunStore) throws {
        guard let range = timeRange else { return }
        let columns = Self.plotColumns
        var voltageColumns = MinMaxDecimator(start: range.lowerBound, end: range.upperBound, buckets: columns)
        var weReColumns = voltageColumns
        var densityColumns = voltageColumns
        var pressureColumns = voltageColumns
        var temperatureColumns = voltageColumns
        let window = stopWindowRange()
        stopWindow = window
        var stopColumns = window.map { MinMaxDecimator(start: $0.lowerBound, end: $0.upperBound, buckets: columns) }
        var stopWEREColumns = stopColumns
        let stripSteps = stripSeriesSteps()
        var stripColumns: [Int: MinMaxDecimator] = [:]
        var stripEnds: [Int: Double] = [:]
        for step in stripSteps {
            let length = (step.endTime_s ?? range.upperBound) - step.startTime_s
            stripColumns[step.index] = MinMaxDecimator(start: 0, end: max(length, 1e-6), buckets: 500)
        }
        let useWERE = run.threeElectrode
        let area = run.area_cm2
        let tripTime = stopVerdict?.time_s
        var trip: (Double, Double)?
        var count = 0
        var intervals: [Double] = []
        var previousTime: Double?
        try store.forEachSample(runID: run.id) { recorded in
            let sample = recorded.sample
            let time = sample.time_s
            count += 1
            if intervals.count < 2000, let previousTime, time > previousTime { intervals.append(time - previousTime) }
            previousTime = time
            voltageColumns.add(time, sample.voltage_V)
            if let weRe = sample.voltageWERE_V { weReColumns.add(time, weRe) }
            densityColumns.add(time, sample.current_A / area * 1000)
            if let pressure = sample.pressure_MPa { pressureColumns.add(time, pressure) }
            if let temperature = sample.temperature_C { temperatureColumns.add(time, temperature) }
            if stopColumns != nil {
                stopColumns!.add(time, sample.voltage_V)
                if let weRe = sample.voltageWERE_V { stopWEREColumns!.add(time, weRe) }
            }
            if let tripTime, abs(time - tripTime) < 1e-9 { trip = (time, sample.voltage_V) }
            if stripColumns[recorded.stepIndex] != nil,
                let start = stripSteps.first(where: {
                    $0.index == recorded.stepIndex
                })?.startTime_s
            {
                let value = useWERE ? sample.voltageWERE_V : sample.voltage_V
                if let value {
                    stripColumns[recorded.stepIndex]!.add(time - start, value)
                    if sample.isJudged, value.isFinite { stripEnds[recorded.stepIndex] = value }
                }
            }
        }
        sampleCount = count
        intervals.sort()
        if !intervals.isEmpty { samplingInterval_s = intervals[intervals.count / 2] }
        voltage = voltageColumns.points
        voltageWERE = weReColumns.points
        currentDensity = densityColumns.points
        pressure = pressureColumns.points
        temperature = temperatureColumns.points
        stopVoltage = stopColumns?.points ?? []
        stopVoltageWERE = stopWEREColumns?.points ?? []
        trippingSample = trip.map { (time_s: $0.0, voltage_V: $0.1) }
        stripsUseWERE = useWERE && !voltageWERE.isEmpty
        strips = stripSteps.map { step in
            StripCurve(
                stepIndex: step.index, cycle: step.cycle, currentDensity_mA_cm2: step.currentDensity_mA_cm2,
                points: stripColumns[step.index]?.points ?? [], endValue_V: stripEnds[step.index])
        }
    }

    /// The strip steps of a stripping series: a three-electrode run, or strips all at one current density.
    private func stripSeriesSteps() -> [StepRecordRow] {
        let strips = steps.filter { $0.kind == StepKind.strip.rawValue }
        guard strips.count >= 2 else { return [] }
        let densities = strips.map(\.currentDensity_mA_cm2)
        let oneDensity = (densities.max()! - densities.min()!) <= 0.01 * max(densities.max()!, 1e-12)
        return run.threeElectrode || oneDensity ? strips : []
    }

    /// From the start of the step before the tripping one (at most two hours back) to just after the stop.
    private func stopWindowRange() -> ClosedRange<Double>? {
        guard let verdict = stopVerdict else { return nil }
        let trip = verdict.time_s
        let index = steps.lastIndex { $0.startTime_s <= trip } ?? 0
        var start = steps.isEmpty ? trip - 600 : steps[max(index - 1, 0)].startTime_s
        start = max(start, trip - 7200)
        if let onset = verdict.onsetTime_s { start = min(start, onset - 60) }
        if let first = timeRange?.lowerBound { start = max(start, first) }
        let end = trip + max((trip - start) * 0.04, 1)
        return start < end ? start...end : nil
    }

    private mutating func readSpectra(from store: RunStore) throws {
        let points = Dictionary(grouping: try store.spectra(runID: run.id), by: \.stepIndex)
        let stored = try store.impedanceFits(runID: run.id)
        for index in points.keys.sorted() {
            let stepPoints = points[index]!
            let planned = plan?.steps.first { $0.index == index }
            var entry = SpectrumReport(
                stepIndex: index, cycle: stepPoints.first?.cycle ?? 0, points: stepPoints.map(\.point))
            let fits = stored.filter { $0.stepIndex == index }
            if let match =
                fits.first(where: { $0.result.circuit == planned?.impedanceFit?.circuit }) ?? fits.first
            {
                entry.fit = match.result
                entry.fitSource = .stored
            } else if planned?.impedanceFit != nil, let step = planned {
                do {
                    entry.fit = try ImpedanceFitter.fitMeasuredSpectrum(
                        entry.points, step: step, area_cm2: run.area_cm2, threeElectrode: run.threeElectrode)
                    entry.fitSource = .computed
                } catch {
                    entry.fitProblem = "the fit failed: \(error.message)"
                }
            } else {
                entry.fitProblem =
                    "the protocol names no circuit for this step; fit one with "
                    + "`cellrig fit \(run.id) --circuit 'p(R1,CPE1)-p(R2,CPE2)' --save`"
            }
            spectra.append(entry)
        }
    }
}
