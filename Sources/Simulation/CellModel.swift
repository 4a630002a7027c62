public import Domain

/// What ideal instruments would read from a simulated cell at one moment: the same fields, units and signs as a
/// real instrument's sample, so a simulated galvanostat hands it on unchanged (after its compliance clip).
public typealias CellReading = InstrumentSample

/// A simulated cell: advances in cell time under an applied current and knows the truth about its failures.
///
/// Simulated instruments (in process, or wire-level simulators on pseudo-terminals) drive a `CellModel`; the
/// model never reads a clock, so a run repeats exactly for the same seed and inputs.
public protocol CellModel: Sendable {
    /// Advances the cell by `interval_s` with `current_A` applied (IUPAC; 0 is open circuit) and returns the
    /// reading at the end of the interval.
    mutating func advance(by interval_s: Double, current_A: Double) -> CellReading

    /// The true onsets recorded so far, in time order.
    var groundTruth: [GroundTruthEvent] { get }

    /// The cell's small-signal impedance now, in ohms, at each frequency (Hz); negative imaginary parts are
    /// capacitive.
    func impedance(atFrequencies frequencies_Hz: [Double]) -> [Complex]

    /// One impedance reading at `frequency_Hz` as an analyser would give it, measurement noise included.
    mutating func measureImpedance(atFrequency frequency_Hz: Double) -> Complex

    /// Brings the cell to `temperature_C` (a simulated heater's doing); a model without temperature ignores it.
    mutating func setTemperatureSetpoint(_ temperature_C: Double)

    /// The temperature the cell is held at now, where a heater starts from; nil for a model without temperature.
    var heldTemperature_C: Double? { get }
}

extension CellModel {
    /// Models without temperature dependence stay as they are.
    public mutating func setTemperatureSetpoint(_ temperature_C: Double) {}

    /// Models without temperature dependence hold none.
    public var heldTemperature_C: Double? { nil }

    /// An exact reading, for cells that model no analyser noise.
    public mutating func measureImpedance(atFrequency frequency_Hz: Double) -> Complex {
        impedance(atFrequencies: [frequency_Hz])[0]
    }

    /// Measures a spectrum as an instrument would: point by point, each taking
    /// ``ImpedanceSettings/pointDuration_s(atFrequency:)`` of cell time at zero DC current, the cell's state
    /// moving on between points. Point times count from `startTime_s`.
    public mutating func measureSpectrum(_ settings: ImpedanceSettings, startTime_s: Double) -> [ImpedancePoint] {
        var time_s = startTime_s
        return settings.frequencies_Hz.map { frequency in
            let duration = ImpedanceSettings.pointDuration_s(atFrequency: frequency)
            _ = advance(by: duration, current_A: 0)
            time_s += duration
            let value = measureImpedance(atFrequency: frequency)
            return ImpedancePoint(
                time_s: time_s, frequency_Hz: frequency, real_Ohm: value.real, imaginary_Ohm: value.imaginary)
        }
    }
}
