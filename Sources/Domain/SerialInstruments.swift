/// How a rig reaches an instrument on a serial line: which port, and the line's character format.
///
/// `port` is kept as written in the rig file: a device path, a `/dev/serial/by-id/...` link, or a USB identity
/// `usb:VID:PID[:SERIAL]`. The daemon resolves it each time it opens the port, so an instrument that was
/// unplugged and plugged back in (possibly under another `/dev/ttyACM*` name) is found again.
public struct SerialLineConfiguration: Sendable, Hashable, Codable {
    /// Parity bit of each character.
    public enum Parity: String, Sendable, Hashable, Codable, CaseIterable {
        case none
        case even
        case odd
    }

    /// Flow control on the line.
    public enum FlowControl: String, Sendable, Hashable, Codable, CaseIterable {
        case none
        case xonXoff = "xon-xoff"
        case rtsCts = "rts-cts"
    }

    /// The port as written: a path, a by-id link or `usb:VID:PID[:SERIAL]`.
    public var port: String
    public var baudRate: Int
    public var dataBits: Int
    public var parity: Parity
    public var stopBits: Int
    public var flowControl: FlowControl

    public init(
        port: String, baudRate: Int, dataBits: Int = 8, parity: Parity = .none, stopBits: Int = 1,
        flowControl: FlowControl = .none
    ) {
        self.port = port
        self.baudRate = baudRate
        self.dataBits = dataBits
        self.parity = parity
        self.stopBits = stopBits
        self.flowControl = flowControl
    }
}

/// A PalmSens instrument (EmStat4, Nexus) driven through MethodSCRIPT.
public struct MethodScriptConfiguration: Sendable, Hashable, Codable {
    /// How the instrument's current sign relates to IUPAC (positive current oxidises the working electrode).
    public enum CurrentSign: String, Sendable, Hashable, Codable, CaseIterable {
        case sameAsIUPAC = "same-as-iupac"
        case oppositeToIUPAC = "opposite-to-iupac"
    }

    public var line: SerialLineConfiguration
    /// The longest one generated script runs before it switches the cell off by itself (renewed while read).
    public var maximumScriptDuration_s: Double
    /// The longest wait for a reply to a command.
    public var replyTimeout_s: Double
    /// 50 or 60.
    public var mainsFrequency_Hz: Int
    public var currentSign: CurrentSign

    public init(
        line: SerialLineConfiguration, maximumScriptDuration_s: Double = 3600, replyTimeout_s: Double = 2,
        mainsFrequency_Hz: Int = 50, currentSign: CurrentSign = .sameAsIUPAC
    ) {
        self.line = line
        self.maximumScriptDuration_s = maximumScriptDuration_s
        self.replyTimeout_s = replyTimeout_s
        self.mainsFrequency_Hz = mainsFrequency_Hz
        self.currentSign = currentSign
    }
}

/// A Keithley 2400 SourceMeter driven through SCPI as a galvanostat.
public struct Keithley2400Configuration: Sendable, Hashable, Codable {
    /// Which output terminal the working electrode is wired to.
    public enum Wiring: String, Sendable, Hashable, Codable, CaseIterable {
        case highToWorkingElectrode = "high-to-we"
        case highToCounterElectrode = "high-to-ce"
    }

    /// What open circuit means: output off (no samples during rests) or 0 A sourced (the voltage is measured).
    public enum OpenCircuit: String, Sendable, Hashable, Codable, CaseIterable {
        case outputOff = "output-off"
        case zeroCurrent = "zero-current"
    }

    /// The rear-panel output interlock (Digital I/O pin 8), which switches the output off when released.
    public enum OutputInterlock: Sendable, Hashable, Codable {
        /// Held by a switch, or by a watchdog whose hold time is not stated.
        case line
        /// Held by a watchdog that releases it after this much silence from the host.
        case watchdog(holdTime_s: Double)
    }

    public var line: SerialLineConfiguration
    public var wiring: Wiring
    public var openCircuit: OpenCircuit
    /// 4-wire measurement.
    public var remoteSense: Bool
    /// Integration time in power-line cycles, 0.01 to 10.
    public var integrationPowerLineCycles: Double
    /// Time allowed for a reply beyond the sampling interval.
    public var replyTimeout_s: Double
    /// The interlock the output depends on; nil: none (a dead host leaves the current on).
    public var outputInterlock: OutputInterlock?

    public init(
        line: SerialLineConfiguration, wiring: Wiring = .highToWorkingElectrode,
        openCircuit: OpenCircuit = .zeroCurrent,
        remoteSense: Bool = true, integrationPowerLineCycles: Double = 1, replyTimeout_s: Double = 3,
        outputInterlock: OutputInterlock? = nil
    ) {
        self.line = line
        self.wiring = wiring
        self.openCircuit = openCircuit
        self.remoteSense = remoteSense
        self.integrationPowerLineCycles = integrationPowerLineCycles
        self.replyTimeout_s = replyTimeout_s
        self.outputInterlock = outputInterlock
    }
}

/// A Mark-10 force gauge (Series 5/7, 7i) read with its GCL2 ASCII commands.
public struct Mark10Configuration: Sendable, Hashable, Codable {
    public var line: SerialLineConfiguration
    /// Whether the gauge reports compression as positive (its polarity setting).
    public var compressionIsPositive: Bool
    public var replyTimeout_s: Double

    public init(line: SerialLineConfiguration, compressionIsPositive: Bool = true, replyTimeout_s: Double = 1) {
        self.line = line
        self.compressionIsPositive = compressionIsPositive
        self.replyTimeout_s = replyTimeout_s
    }
}

/// A load cell behind a Modbus RTU transmitter: where its reading is and how it is encoded.
public struct ModbusLoadCellConfiguration: Sendable, Hashable, Codable {
    /// Holding registers (function 03) or input registers (function 04).
    public enum RegisterKind: String, Sendable, Hashable, Codable, CaseIterable {
        case holding
        case input
    }

    /// How the register contents encode the reading.
    public enum ValueType: String, Sendable, Hashable, Codable, CaseIterable {
        case int16
        case uint16
        case int32
        case uint32
        case float32
    }

    /// Order of the four bytes of a 32-bit value on the wire, naming the value's bytes from the most significant
    /// (A) to the least (D). Modbus itself sends each 16-bit register high byte first; transmitters differ in how
    /// they split a 32-bit value over two registers, and some swap the bytes inside each register too. For a 16-bit
    /// value only the byte swap matters: `ABCD` and `CDAB` send it as `AB`, `BADC` and `DCBA` as `BA`.
    public enum ByteOrder: String, Sendable, Hashable, Codable, CaseIterable {
        /// High word first, each register high byte first: the Modbus convention ("big-endian").
        case abcd = "ABCD"
        /// Low word first, each register high byte first ("word-swapped"), common in meters.
        case cdab = "CDAB"
        /// High word first, bytes swapped inside each register ("byte-swapped").
        case badc = "BADC"
        /// Low word first, bytes swapped inside each register ("little-endian").
        case dcba = "DCBA"

        /// Whether the less significant register comes first.
        public var lowWordFirst: Bool { self == .cdab || self == .dcba }
        /// Whether each register carries its low byte first.
        public var bytesSwapped: Bool { self == .badc || self == .dcba }
    }

    /// A register write that zeroes (tares) the transmitter (function 06).
    public struct ZeroCommand: Sendable, Hashable, Codable {
        public var register: Int
        public var value: Int

        public init(register: Int, value: Int) {
            self.register = register
            self.value = value
        }
    }

    public var line: SerialLineConfiguration
    /// Recorded as the instrument's model (Modbus transmitters rarely identify themselves).
    public var model: String
    /// Recorded as the instrument's serial number.
    public var serialNumber: String
    /// Station address, 1 to 247.
    public var stationAddress: Int
    public var registerKind: RegisterKind
    /// 0-based address on the wire (a manual's 40001 is 0).
    public var register: Int
    public var valueType: ValueType
    public var byteOrder: ByteOrder
    /// Newtons per raw count (per unit for float32).
    public var newtonsPerCount: Double
    /// The write that zeroes the transmitter, if its manual names one.
    public var zeroCommand: ZeroCommand?
    public var replyTimeout_s: Double

    public init(
        line: SerialLineConfiguration, model: String = "Modbus load cell", serialNumber: String = "",
        stationAddress: Int = 1, registerKind: RegisterKind = .holding, register: Int, valueType: ValueType,
        byteOrder: ByteOrder = .abcd, newtonsPerCount: Double, zeroCommand: ZeroCommand? = nil,
        replyTimeout_s: Double = 1
    ) {
        self.line = line
        self.model = model
        self.serialNumber = serialNumber
        self.stationAddress = stationAddress
        self.registerKind = registerKind
        self.register = register
        self.valueType = valueType
        self.byteOrder = byteOrder
        self.newtonsPerCount = newtonsPerCount
        self.zeroCommand = zeroCommand
        self.replyTimeout_s = replyTimeout_s
    }
}

/// The rig's stack-pressure sensor: which force sensor, how its force becomes a pressure, how often it is read.
///
/// Part of the rig description, so the calibration is recorded in every run's start record.
public struct PressureSensorConfiguration: Sendable, Hashable, Codable {
    /// Which driver reads the force.
    public enum Driver: Sendable, Hashable, Codable {
        case mark10(Mark10Configuration)
        case modbus(ModbusLoadCellConfiguration)
    }

    public var driver: Driver
    /// Force to pressure: scale, offset and the pellet area the force acts on.
    public var calibration: StackPressureCalibration
    /// The sensor is read when at least this much cell time has passed since its last reading; every sample in
    /// between carries the latest reading.
    public var readingInterval_s: Double
    /// The largest force the sensor can read (its rated capacity), if the rig file states it.
    public var capacity_N: Double?

    public init(
        driver: Driver, calibration: StackPressureCalibration, readingInterval_s: Double = 1, capacity_N: Double? = nil
    ) {
        self.driver = driver
        self.calibration = calibration
        self.readingInterval_s = readingInterval_s
        self.capacity_N = capacity_N
    }

    /// Beyond this force a reading is implausible when the rig file states no capacity: 1 MN, a hundred tonnes,
    /// far more than any bench clamp holds, yet far less than what a misread register (wrong byte order, wrong
    /// value type) decodes to.
    public static let plausibleForceWithoutCapacity_N = 1e6

    /// Whether `force_N` can be a reading of this sensor: finite and within its capacity (10 % overload allowed),
    /// or within ``plausibleForceWithoutCapacity_N`` when no capacity is stated.
    public func isPlausible(force_N: Double) -> Bool {
        guard force_N.isFinite else { return false }
        return abs(force_N) <= capacity_N.map { $0 * 1.1 } ?? Self.plausibleForceWithoutCapacity_N
    }

    /// The line settings of the sensor, whichever driver it has.
    public var line: SerialLineConfiguration {
        switch driver {
        case .mark10(let configuration): configuration.line
        case .modbus(let configuration): configuration.line
        }
    }
}
