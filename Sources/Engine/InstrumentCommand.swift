import Domain

/// What the engine asks of the galvanostat.
public enum InstrumentCommand: Sendable, Hashable {
    case applyCurrent(Double)
    case openCircuit
    /// Measure one impedance spectrum and hand it to ``RunEngine/impedanceMeasured(_:)``.
    case measureImpedance(ImpedanceSettings)
    /// Set the working electrode's potential (a hold, or a sweep from the moment of the command) and measure the
    /// current.
    case applyPotential(PotentialProgram)
    /// Write the temperature controller's setpoint (in C) and enable its output; the cell stays at open circuit.
    case setTemperature(Double)

    /// The direct current a cell model carries after this command, given the one before it: the current it sets,
    /// none at open circuit, during a spectrum or under potential control (the current then follows the cell, which
    /// a plain current-driven model cannot), unchanged by a temperature setpoint. For replays, tests and benchmarks
    /// that drive a model with the engine's commands.
    public func cellCurrent(after current_A: Double) -> Double {
        switch self {
        case .applyCurrent(let value): value
        case .openCircuit, .measureImpedance, .applyPotential: 0
        case .setTemperature: current_A
        }
    }
}
