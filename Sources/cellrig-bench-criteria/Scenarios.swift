import Domain
import Foundation
import ProtocolFiles
import Simulation
import TraceFamilies

/// A family of cell traces the criteria are scored on: the physics simulator, or one of the independent trace
/// families (written apart from it: no shared code or functional forms).
enum BenchFamily: String, CaseIterable, Sendable {
    case physics
    case kinetic
    case empirical

    var summary: String {
        switch self {
        case .physics:
            "PhysicsCell presets (sinh kinetics on contact area, dendrite -> soft -> hard short), with first-plating "
                + "nucleation of hundreds of mV lasting minutes, a slow relaxation, drift, spikes and bursts"
        case .kinetic:
            "TraceFamilies.kinetic: Butler-Volmer with asymmetric transfer coefficients and a limiting current, "
                + "stretched-exponential nucleation (to 0.85 V, up to 30 min), diffusion relaxation, 1/f and "
                + "telegraph noise, glitches and bursts; shorts as a parallel conductance"
        case .empirical:
            "TraceFamilies.empirical: power-law polarisation, power-law nucleation, rise-then-fall relaxation, "
                + "AR(2) and heavy-tailed noise, stuck and mis-scaled readings, truncating converter; shorts as a "
                + "factor on |V|"
        }
    }
}

/// The test a scenario runs: a symmetric step-current CCD (every half-cycle plates one electrode, `during: both`)
/// or a three-electrode plating-step CCD (the WE plated at rising current, stripped at a fixed one).
enum Schedule: String, CaseIterable, Sendable {
    case symmetric
    case platingStep = "plating-step"

    /// The shipped protocol whose stop criteria are scored as shipped on this schedule.
    var shippedProtocol: String {
        switch self {
        case .symmetric: "protocols/ccd-step-symmetric.yaml"
        case .platingStep: "protocols/ccd-plating-step-3e.yaml"
        }
    }

    var watch: String { self == .symmetric ? "both" : "plate" }
}

struct Scenario: Sendable {
    var family: BenchFamily
    var schedule: Schedule
    var interval_s: Double
    var resolution_V: Double
    /// nil for a short-free cell.
    var shape: ShortShape?
    /// The physics family's cells are shorted or not by their CCD; `shape` is nil there and this says which.
    var shorted: Bool
    var seed: UInt64
    var preset: String?

    var label: String {
        let what = shorted ? (shape.map { "\($0.rawValue) short" } ?? "short") : "short-free"
        return "\(family.rawValue)\(preset.map { "/\($0)" } ?? "") \(schedule.rawValue) \(what) "
            + "dt=\(formatNumber(interval_s)) s q=\(formatNumber(resolution_V * 1e6)) uV seed=\(seed)"
    }
}

let benchIntervals = [0.1, 1.0, 10.0]
let benchResolutions = [1e-5, 1e-4, 1e-3]

/// Every scenario of a family: per sampling interval, both schedules at three resolutions, each short shape (the
/// physics family: each preset) shorted and as many short-free cells.
func scenarios(_ family: BenchFamily) -> [Scenario] {
    var list: [Scenario] = []
    var seed: UInt64 = family == .physics ? 1000 : family == .kinetic ? 2000 : 3000
    for interval in benchIntervals {
        for schedule in Schedule.allCases {
            for resolution in benchResolutions {
                switch family {
                case .physics:
                    for preset in PhysicsCellParameters.presetNames {
                        for shorted in [true, false] {
                            seed += 1
                            list.append(
                                Scenario(
                                    family: family, schedule: schedule, interval_s: interval, resolution_V: resolution,
                                    shape: nil, shorted: shorted, seed: seed, preset: preset))
                        }
                    }
                case .kinetic, .empirical:
                    for shape in ShortShape.allCases {
                        for shorted in [true, false] {
                            seed += 1
                            list.append(
                                Scenario(
                                    family: family, schedule: schedule, interval_s: interval, resolution_V: resolution,
                                    shape: shorted ? shape : nil, shorted: shorted, seed: seed))
                        }
                    }
                }
            }
        }
    }
    return list
}

/// A cell of any family, driven by the engine's commands.
enum BenchCell {
    case physics(PhysicsCell)
    case trace(any TraceCell)

    mutating func advance(by interval_s: Double, current_A: Double) -> InstrumentSample {
        switch self {
        case .physics(var cell):
            let reading = cell.advance(by: interval_s, current_A: current_A)
            self = .physics(cell)
            return reading
        case .trace(var cell):
            let reading = cell.advance(by: interval_s, current_A: current_A)
            self = .trace(cell)
            return reading
        }
    }

    /// The true onset of the short: the dendrite's initiation, or the trace cell's own record.
    var onset_s: Double? {
        switch self {
        case .physics(let cell): cell.groundTruth.first { $0.kind == .dendriteInitiation }?.time_s
        case .trace(let cell): cell.shortOnset_s
        }
    }
}

/// Small deterministic draws for the physics family's extra transients and the trace families' schedules.
struct ScenarioDraws {
    private var state: UInt64

    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }

    mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return range.lowerBound + (range.upperBound - range.lowerBound) * Double(state >> 11) * 0x1.0p-53
    }

    mutating func logUniform(_ range: ClosedRange<Double>) -> Double {
        exp(uniform(log(range.lowerBound)...log(range.upperBound)))
    }
}

/// What a run needs: the cell, the protocol text of its schedule, its CCD and electrode area.
struct RunSetUp {
    var cell: BenchCell
    var testProtocol: TestProtocol
    var area_cm2: Double
    var electrolyteResistance_Ohm_cm2: Double
}

func setUp(_ scenario: Scenario) throws -> RunSetUp {
    var draws = ScenarioDraws(seed: scenario.seed)
    let area: Double
    let ccd: Double
    let cell: BenchCell
    let electrolyte: Double
    let capacityHours = 0.1
    switch scenario.family {
    case .physics:
        var parameters = try PhysicsCellParameters.preset(named: scenario.preset ?? "k-beta-alumina")
        parameters.seed = scenario.seed
        parameters.isThreeElectrode = scenario.schedule == .platingStep
        parameters.voltageResolution_V = scenario.resolution_V
        parameters.voltageNoise_V = draws.logUniform(1e-5...2e-4)
        parameters.voltageSpikeProbability = [0, 1e-4, 1e-3][Int(draws.uniform(0...2.999))]
        parameters.voltageBurstProbability = draws.uniform(0...1) < 0.5 ? draws.logUniform(1e-5...1e-4) : 0
        parameters.voltageDrift_V = draws.logUniform(2e-5...2e-4)
        parameters.voltageDriftTime_s = draws.logUniform(300...3600)
        parameters.nucleationCurrentExponent = draws.uniform(0...0.8)
        parameters.firstNucleationOverpotential_V = draws.logUniform(0.02...0.15)
        parameters.firstNucleationTime_s = draws.logUniform(30...900)
        parameters.slowRelaxationFraction = draws.uniform(0...0.2)
        parameters.slowRelaxationTime_s = draws.logUniform(30...600)
        ccd = parameters.dendriteCCD_mA_cm2
        if !scenario.shorted { parameters.dendriteCCD_mA_cm2 = 3 * ccd }
        area = parameters.electrodeArea_cm2
        electrolyte = parameters.effectiveBulkResistance_Ohm_cm2
        cell = .physics(PhysicsCell(parameters: parameters))
    case .kinetic, .empirical:
        ccd = draws.logUniform(0.5...5)
        area = [0.0314, 0.196, 1.0][Int(draws.uniform(0...2.999))]
        let onsetShare = draws.uniform(0.1...0.85)
        let options = TraceCellOptions(
            seed: scenario.seed, area_cm2: area, voltageResolution_V: scenario.resolution_V,
            criticalCurrentDensity_mA_cm2: scenario.shorted ? ccd : nil,
            onsetCharge_mAh_cm2: onsetShare * ccd * capacityHours, shortShape: scenario.shape ?? .abrupt,
            shortsOnlyWhilePlatingWE: scenario.schedule == .platingStep,
            threeElectrode: scenario.schedule == .platingStep)
        let traceCell = (scenario.family == .kinetic ? TraceFamily.kinetic : .empirical).makeCell(options)
        electrolyte = traceCell.electrolyteResistance_Ohm_cm2
        cell = .trace(traceCell)
    }
    let text = protocolText(scenario, ccd: ccd, capacityHours: capacityHours)
    return RunSetUp(
        cell: cell, testProtocol: try ProtocolFile.parse(text, file: "bench-\(scenario.schedule.rawValue)"),
        area_cm2: area, electrolyteResistance_Ohm_cm2: electrolyte)
}

/// The schedule: a first cycle at a low current (40 min per half-cycle, where the first nucleation is slowest),
/// then cycles from three 2 % increments below the CCD to two above it, 6 min per half-cycle.
func protocolText(_ scenario: Scenario, ccd: Double, capacityHours: Double) -> String {
    let low = ccd >= 1 ? 0.05 : ccd / 20
    let increment = ccd / 48
    let start = ccd - 3 * increment
    let maximum = ccd + 2.5 * increment
    let capacity = ccd * capacityHours
    let number = { (value: Double) in formatNumber(value, significantDigits: 8) }
    switch scenario.schedule {
    case .symmetric:
        return """
            schema: 1
            name: bench-symmetric
            sampling_interval: \(number(scenario.interval_s)) s
            steps:
              - plate: {current_density: \(number(low)) mA/cm2, duration: 40 min}
              - strip: {current_density: \(number(low)) mA/cm2, duration: 40 min}
              - loop:
                  current:
                    start: \(number(start)) mA/cm2
                    increment: \(number(increment)) mA/cm2
                    maximum: \(number(maximum)) mA/cm2
                  steps:
                    - plate: {capacity: \(number(capacity)) mAh/cm2}
                    - strip: {capacity: \(number(capacity)) mAh/cm2}
            """
    case .platingStep:
        let stripping = ccd / 5
        return """
            schema: 1
            name: bench-plating-step
            three_electrode: true
            sampling_interval: \(number(scenario.interval_s)) s
            steps:
              - plate: {current_density: \(number(low)) mA/cm2, duration: 40 min}
              - strip: {current_density: \(number(stripping)) mA/cm2, duration: 20 min}
              - loop:
                  plating_current:
                    start: \(number(start)) mA/cm2
                    increment: \(number(increment)) mA/cm2
                    maximum: \(number(maximum)) mA/cm2
                  stripping_current: \(number(stripping)) mA/cm2
                  steps:
                    - plate: {capacity: \(number(capacity)) mAh/cm2}
                    - strip: {capacity: \(number(stripping * capacityHours)) mAh/cm2}
            """
    }
}
