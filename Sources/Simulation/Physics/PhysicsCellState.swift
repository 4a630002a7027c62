/// One of the two current-carrying electrodes of a simulated cell.
public enum CellElectrode: String, Sendable, Hashable, CaseIterable {
    case working = "WE"
    case counter = "CE"
}

/// How far a dendrite short has developed.
public enum ShortCondition: String, Sendable, Hashable {
    case none
    /// A dendrite has crossed the electrolyte and currently conducts.
    case softConnected = "soft-connected"
    /// A dendrite has crossed the electrolyte but its filament is currently broken.
    case softBroken = "soft-broken"
    /// A permanent low-resistance electronic path.
    case hard
}

/// A snapshot of what a physics cell hides from instruments, for diagnostics, plots and tests.
public struct PhysicsCellState: Sendable, Hashable {
    public var time_s: Double
    /// Share of the nominal working-electrode area in contact with the electrolyte.
    public var workingContactFraction: Double
    public var counterContactFraction: Double
    /// How far the dendrite has grown through the electrolyte (0 none, 1 crossed).
    public var dendritePenetration: Double
    /// The electrode the dendrite grows from, if one has initiated.
    public var dendriteElectrode: CellElectrode?
    public var short: ShortCondition
    /// True (unmeasured) stack pressure and temperature.
    public var stackPressure_MPa: Double
    public var temperature_C: Double
    public var workingMetalThickness_um: Double
    public var counterMetalThickness_um: Double
    /// Low-frequency resistances of the cell's elements now, in Ohm (not area-specific).
    public var bulkResistance_Ohm: Double
    public var workingInterfaceResistance_Ohm: Double
    public var counterInterfaceResistance_Ohm: Double
}
