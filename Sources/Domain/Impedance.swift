import Foundation

/// Whether an impedance spectrum perturbs the cell with a potential or with a current.
public enum ImpedanceControl: String, Sendable, Hashable, Codable, CaseIterable {
    /// A sinusoidal potential (amplitude in volts RMS) around the open-circuit potential: PEIS.
    case potentiostatic
    /// A sinusoidal current (amplitude in amperes RMS) around zero DC current: GEIS.
    case galvanostatic
}

/// What an impedance step measures: the frequencies, in the order swept, and the perturbation.
public struct ImpedanceSettings: Sendable, Hashable, Codable {
    public var control: ImpedanceControl
    /// The first frequency swept (usually the highest), Hz.
    public var startFrequency_Hz: Double
    /// The last frequency swept, Hz.
    public var endFrequency_Hz: Double
    /// Logarithmically spaced points per decade of frequency.
    public var pointsPerDecade: Int
    /// RMS amplitude: volts for potentiostatic control, amperes for galvanostatic control.
    public var amplitude: Double

    public init(
        control: ImpedanceControl, startFrequency_Hz: Double, endFrequency_Hz: Double, pointsPerDecade: Int,
        amplitude: Double
    ) {
        self.control = control
        self.startFrequency_Hz = startFrequency_Hz
        self.endFrequency_Hz = endFrequency_Hz
        self.pointsPerDecade = pointsPerDecade
        self.amplitude = amplitude
    }

    /// The highest frequency swept, Hz.
    public var maximumFrequency_Hz: Double { max(startFrequency_Hz, endFrequency_Hz) }

    /// The number of frequencies swept: both ends included, `pointsPerDecade` per decade between them.
    public var pointCount: Int {
        let decades = abs(log10(endFrequency_Hz / startFrequency_Hz))
        return max(2, Int((decades * Double(pointsPerDecade)).rounded()) + 1)
    }

    /// Cell time one point takes at `frequency_Hz` in simulators and estimates: two periods, at least 0.1 s.
    public static func pointDuration_s(atFrequency frequency_Hz: Double) -> Double {
        max(2 / frequency_Hz, 0.1)
    }

    /// Estimated cell time of the whole spectrum.
    public var expectedDuration_s: Double {
        frequencies_Hz.reduce(0) { $0 + Self.pointDuration_s(atFrequency: $1) }
    }

    /// The frequencies in the order they are swept, log-spaced from start to end.
    public var frequencies_Hz: [Double] {
        let count = pointCount
        let ratio = log10(endFrequency_Hz / startFrequency_Hz)
        return (0..<count).map { index in
            startFrequency_Hz * pow(10, ratio * Double(index) / Double(count - 1))
        }
    }
}

/// One point of an impedance spectrum as the instrument measured it.
public struct ImpedancePoint: Sendable, Hashable, Codable {
    /// Cell time at which the point was measured, on the instrument's clock (same clock as the samples).
    public var time_s: Double
    public var frequency_Hz: Double
    /// Z' in ohms.
    public var real_Ohm: Double
    /// Z'' in ohms, negative for a capacitive response (the sign the instrument sends).
    public var imaginary_Ohm: Double

    public init(time_s: Double, frequency_Hz: Double, real_Ohm: Double, imaginary_Ohm: Double) {
        self.time_s = time_s
        self.frequency_Hz = frequency_Hz
        self.real_Ohm = real_Ohm
        self.imaginary_Ohm = imaginary_Ohm
    }
}

/// A protocol's `impedance:` step: one spectrum, after which the run goes on with the next step.
public struct ImpedanceStep: Sendable, Hashable, Codable {
    public var control: ImpedanceControl
    public var startFrequency_Hz: Double
    public var endFrequency_Hz: Double
    public var pointsPerDecade: Int
    /// Volts RMS (potentiostatic), or a current or current density RMS (galvanostatic).
    public var amplitude: ImpedanceAmplitude
    /// The equivalent circuit to fit to the spectrum, if the protocol names one.
    public var fit: ImpedanceFitSpecification?

    public init(
        control: ImpedanceControl, startFrequency_Hz: Double, endFrequency_Hz: Double, pointsPerDecade: Int,
        amplitude: ImpedanceAmplitude, fit: ImpedanceFitSpecification? = nil
    ) {
        self.control = control
        self.startFrequency_Hz = startFrequency_Hz
        self.endFrequency_Hz = endFrequency_Hz
        self.pointsPerDecade = pointsPerDecade
        self.amplitude = amplitude
        self.fit = fit
    }

    /// The settings for an electrode of `area_cm2` (a current density amplitude becomes amperes).
    public func settings(area_cm2: Double) -> ImpedanceSettings {
        let amplitude: Double
        switch self.amplitude {
        case .voltage_V(let volts): amplitude = volts
        case .current(let setting): amplitude = abs(setting.amperes(area_cm2: area_cm2))
        }
        return ImpedanceSettings(
            control: control, startFrequency_Hz: startFrequency_Hz, endFrequency_Hz: endFrequency_Hz,
            pointsPerDecade: pointsPerDecade, amplitude: amplitude)
    }
}

/// The RMS amplitude of an impedance step's perturbation.
public enum ImpedanceAmplitude: Sendable, Hashable, Codable {
    case voltage_V(Double)
    case current(CurrentSetting)
}

/// What to fit to an impedance step's spectrum: the protocol's `circuit:`, `interface:` and `weighting:` keys.
public struct ImpedanceFitSpecification: Sendable, Hashable, Codable {
    public var circuit: EquivalentCircuit
    /// The resistor that is the metal|electrolyte interface; nil takes the arc with the lowest apex frequency.
    public var interfaceElement: String?
    public var weighting: FitWeighting

    public init(circuit: EquivalentCircuit, interfaceElement: String? = nil, weighting: FitWeighting = .modulus) {
        self.circuit = circuit
        self.interfaceElement = interfaceElement
        self.weighting = weighting
    }
}
