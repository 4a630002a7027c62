public import Domain
import Foundation

/// The simplest simulated cell: ohmic and interfacial resistance, white noise, and a dendrite short once the
/// current density reaches a configured critical value for long enough.
///
/// Either electrode may short (in a symmetric cell every half-cycle plates one of them). The short forms over a
/// few seconds as a falling parallel resistance, then stays. Good for demos and for testing the plumbing; the
/// physics model brings nucleation, relaxation, voiding and soft shorts.
public struct OhmicCell: CellModel {
    public let configuration: SimulatedCellConfiguration
    public let area_cm2: Double
    public let stackPressure_MPa: Double?
    public let temperature_C: Double?
    public private(set) var groundTruth: [GroundTruthEvent] = []

    private var time_s = 0.0
    private var timeAtCritical_s = 0.0
    private var shortOnset_s: Double?
    private var generator: SeededGenerator
    /// Time constant with which a started short grows to its full conductance.
    private let shortFormation_s = 5.0

    public init(
        configuration: SimulatedCellConfiguration, area_cm2: Double, stackPressure_MPa: Double? = nil,
        temperature_C: Double? = nil
    ) {
        self.configuration = configuration
        self.area_cm2 = area_cm2
        self.stackPressure_MPa = stackPressure_MPa
        self.temperature_C = temperature_C
        generator = SeededGenerator(seed: configuration.seed)
    }

    /// The cell's resistance with no short, ohms.
    public var intactResistance_Ohm: Double {
        (configuration.bulkResistance_Ohm_cm2 + 2 * configuration.interfacialResistance_Ohm_cm2) / area_cm2
    }

    /// Double-layer capacitance of each interface, F/cm2, for the impedance spectrum.
    public static let doubleLayerCapacitance_F_cm2 = 1e-5

    /// Bulk resistance in series with two interfaces, each its resistance parallel to a double-layer capacitance;
    /// a short lies in parallel with all of it.
    public func impedance(atFrequencies frequencies_Hz: [Double]) -> [Complex] {
        let bulk = Complex(real: configuration.bulkResistance_Ohm_cm2 / area_cm2)
        let interfaceResistance = configuration.interfacialResistance_Ohm_cm2 / area_cm2
        let capacitance = Self.doubleLayerCapacitance_F_cm2 * area_cm2
        var shortResistance: Double?
        if let onset = shortOnset_s {
            let formed = 1 - exp(-(time_s - onset) / shortFormation_s)
            shortResistance = configuration.shortResistance_Ohm / max(formed, 1e-12)
        }
        return frequencies_Hz.map { frequency in
            let admittance = Complex(
                real: 1 / interfaceResistance, imaginary: 2 * Double.pi * frequency * capacitance)
            let interface = admittance.reciprocal
            var total = bulk + interface + interface
            if let shortResistance { total = (total.reciprocal + Complex(real: 1 / shortResistance)).reciprocal }
            return total
        }
    }

    public mutating func advance(by interval_s: Double, current_A: Double) -> CellReading {
        time_s += interval_s
        let density = abs(current_A) / area_cm2 * 1e3
        if shortOnset_s == nil, density >= configuration.criticalCurrentDensity_mA_cm2 * (1 - 1e-9) {
            timeAtCritical_s += interval_s
            if timeAtCritical_s >= configuration.shortDelay_s {
                let onset = time_s - (timeAtCritical_s - configuration.shortDelay_s)
                shortOnset_s = onset
                groundTruth.append(GroundTruthEvent(kind: .hardShort, time_s: onset, currentDensity_mA_cm2: density))
            }
        }
        var resistance = intactResistance_Ohm
        if let onset = shortOnset_s {
            let formed = 1 - exp(-(time_s - onset) / shortFormation_s)
            let shortResistance = configuration.shortResistance_Ohm / max(formed, 1e-12)
            resistance = resistance * shortResistance / (resistance + shortResistance)
        }
        let noise = configuration.noise_V * generator.nextGaussian()
        return CellReading(
            time_s: time_s, current_A: current_A, voltage_V: current_A * resistance + noise,
            pressure_MPa: stackPressure_MPa.map { $0 + 0.002 * generator.nextGaussian() },
            temperature_C: temperature_C.map { $0 + 0.01 * generator.nextGaussian() })
    }
}
