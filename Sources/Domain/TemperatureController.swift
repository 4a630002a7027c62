/// A PID temperature controller (the heater of a cell's oven or heated clamp) reached over Modbus RTU: where its
/// process value, setpoint and output-enable registers are, how a register holds a temperature, and what the rig
/// does with the heater when a run ends.
///
/// Part of the rig description (`temperature_controller:` in a rig file), so every run records it. Its readings
/// become every sample's `temperature_C`.
public struct TemperatureControllerConfiguration: Sendable, Hashable, Codable {
    /// Register maps of controller families whose manuals state them; a rig file's own keys override a preset's.
    public enum Preset: String, Sendable, Hashable, Codable, CaseIterable {
        /// Eurotherm 3200 series (3216, 3208, 32h8, 3204), from its manual HA028651, section 15.5.
        case eurotherm3200 = "eurotherm-3200"
    }

    /// A register write that switches the controller's output (the heater) on or off.
    public struct OutputEnable: Sendable, Hashable, Codable {
        public var register: Int
        /// The value that lets the controller drive its output (automatic control).
        public var enabledValue: Int
        /// The value that holds the output off.
        public var disabledValue: Int

        public init(register: Int, enabledValue: Int, disabledValue: Int) {
            self.register = register
            self.enabledValue = enabledValue
            self.disabledValue = disabledValue
        }
    }

    /// What the heater does when a run ends (completed, stopped, aborted, faulted, interrupted by a shutdown).
    public enum AtRunEnd: String, Sendable, Hashable, Codable, CaseIterable {
        /// The setpoint and output stay as the run left them: the cell is at open circuit, but a cell conditioned at
        /// 80 C stays at 80 C (the default; see ADR 0014).
        case keep
        /// The controller's output is switched off (the cell cools to ambient).
        case outputOff = "output-off"
    }

    public var line: SerialLineConfiguration
    /// The preset the register map came from, if any (recorded; the registers below are what the driver uses).
    public var preset: Preset?
    /// Recorded as the instrument's model.
    public var model: String
    /// Recorded as the instrument's serial number.
    public var serialNumber: String
    /// Station address, 1 to 247.
    public var stationAddress: Int
    /// Function 03 (holding) or 04 (input) for the process value.
    public var processValueKind: ModbusLoadCellConfiguration.RegisterKind
    /// 0-based wire address of the measured temperature.
    public var processValueRegister: Int
    /// 0-based wire address of the setpoint (a holding register, written with function 06).
    public var setpointRegister: Int
    /// The write that enables or disables the output, if the controller has one.
    public var outputEnable: OutputEnable?
    /// Digits after the decimal point in the registers: 1 means a register of 800 is 80.0 C.
    public var decimalPlaces: Int
    /// Whether the registers hold signed (two's complement) values; below 0 C needs it.
    public var signed: Bool
    public var replyTimeout_s: Double
    /// The controller is read when at least this much cell time has passed since its last reading; samples in
    /// between carry the latest reading.
    public var readingInterval_s: Double
    /// The highest setpoint a protocol may ask of this rig (the oven's or the clamp's limit).
    public var maximumSetpoint_C: Double
    public var atRunEnd: AtRunEnd

    public init(
        line: SerialLineConfiguration, preset: Preset? = nil, model: String = "Modbus temperature controller",
        serialNumber: String = "", stationAddress: Int = 1,
        processValueKind: ModbusLoadCellConfiguration.RegisterKind = .holding, processValueRegister: Int,
        setpointRegister: Int, outputEnable: OutputEnable? = nil, decimalPlaces: Int = 1, signed: Bool = true,
        replyTimeout_s: Double = 1, readingInterval_s: Double = 1, maximumSetpoint_C: Double = 150,
        atRunEnd: AtRunEnd = .keep
    ) {
        self.line = line
        self.preset = preset
        self.model = model
        self.serialNumber = serialNumber
        self.stationAddress = stationAddress
        self.processValueKind = processValueKind
        self.processValueRegister = processValueRegister
        self.setpointRegister = setpointRegister
        self.outputEnable = outputEnable
        self.decimalPlaces = decimalPlaces
        self.signed = signed
        self.replyTimeout_s = replyTimeout_s
        self.readingInterval_s = readingInterval_s
        self.maximumSetpoint_C = maximumSetpoint_C
        self.atRunEnd = atRunEnd
    }

    /// A configuration with `preset`'s register map, on `line`.
    public init(preset: Preset, line: SerialLineConfiguration) {
        switch preset {
        case .eurotherm3200:
            // HA028651 §15.5: PV.IN at 1, TG.SP (target setpoint) at 2; values are scaled integers with the
            // display's decimal point. A-M (loop mode) at 273: 0 automatic, 2 off (not in the pages we could read;
            // check it against the instrument's own manual revision, ADR 0014).
            self.init(
                line: line, preset: preset, model: "Eurotherm 3200", processValueRegister: 1, setpointRegister: 2,
                outputEnable: OutputEnable(register: 273, enabledValue: 0, disabledValue: 2), decimalPlaces: 1)
        }
    }

    /// Counts per degree: 10 to the number of decimal places.
    public var countsPerDegree: Double {
        var scale = 1.0
        for _ in 0..<decimalPlaces { scale *= 10 }
        return scale
    }

    /// The temperature a register holds.
    public func temperature_C(register value: UInt16) -> Double {
        let count = signed ? Double(Int16(bitPattern: value)) : Double(value)
        return count / countsPerDegree
    }

    /// The register value for `temperature_C`, rounded to the register's resolution; nil when it does not fit.
    public func registerValue(temperature_C: Double) -> UInt16? {
        guard temperature_C.isFinite else { return nil }
        let count = (temperature_C * countsPerDegree).rounded()
        if signed {
            guard count >= Double(Int16.min), count <= Double(Int16.max) else { return nil }
            return UInt16(bitPattern: Int16(count))
        }
        guard count >= 0, count <= Double(UInt16.max) else { return nil }
        return UInt16(count)
    }
}
