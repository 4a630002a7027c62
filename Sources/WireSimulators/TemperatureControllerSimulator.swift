public import Domain
import Foundation
public import Transport

/// A Modbus RTU PID temperature controller with its heater and the thermal mass it heats, simulated at the frame
/// level from the Modbus over Serial Line specification and the register map of a ``TemperatureControllerConfiguration``
/// (the Eurotherm 3200 preset, or any other).
///
/// The plant is first order: `dT/dt = (T_ambient + rise - T) / timeConstant`, where `rise` is the heater's power
/// expressed as the steady temperature rise it would hold, limited to `maximumRise_C` (the heater's power limit).
/// The controller sets `rise` to the setpoint's rise over ambient plus a proportional correction, clamped to
/// `0...maximumRise_C`; with the output disabled `rise` is 0 and the mass cools towards ambient. Time comes from
/// `clock` (any origin: only differences count), so the simulator can follow a potentiostat simulator's cell time at
/// any speed. The process value is quantised to the register's resolution (0.1 C with one decimal place).
///
/// It powers on as a controller left in its off state does: output disabled, setpoint at ambient, at ambient. It
/// answers function 03 and 04 reads and 06 writes to its station, with exception 02 for registers it does not
/// have.
public actor TemperatureControllerSimulator: WireSimulator {
    /// The heater and the thermal mass.
    public struct Plant: Sendable, Hashable {
        public var ambient_C: Double
        /// First-order time constant of the heated mass, in seconds of `clock`.
        public var timeConstant_s: Double
        /// The highest steady rise over ambient the heater can hold (its power limit).
        public var maximumRise_C: Double
        /// Proportional gain of the simulated controller (rise per degree of error).
        public var gain: Double

        public init(ambient_C: Double = 22, timeConstant_s: Double = 600, maximumRise_C: Double = 200, gain: Double = 4)
        {
            self.ambient_C = ambient_C
            self.timeConstant_s = timeConstant_s
            self.maximumRise_C = maximumRise_C
            self.gain = gain
        }
    }

    private let map: TemperatureControllerConfiguration
    private let plant: Plant
    private let clock: @Sendable () async -> Double
    private var temperature_C: Double
    private var setpoint_C: Double
    private var outputEnabled: Bool
    private var lastTime_s: Double?
    /// Setpoints written with function 06, in order (in degrees).
    public private(set) var setpointWrites: [Double] = []

    /// `map` names the station, the registers and their scaling; `clock` gives the simulated time in seconds.
    public init(
        map: TemperatureControllerConfiguration, plant: Plant = Plant(), clock: @escaping @Sendable () async -> Double
    ) {
        self.map = map
        self.plant = plant
        self.clock = clock
        self.temperature_C = plant.ambient_C
        self.setpoint_C = plant.ambient_C
        // A controller without an output-enable register always controls.
        self.outputEnabled = map.outputEnable == nil
    }

    /// Whether the output (the heater) is enabled.
    public var isOutputEnabled: Bool { outputEnabled }

    /// The true temperature of the heated mass (not quantised).
    public var trueTemperature_C: Double { temperature_C }

    public func serve(on transport: any ByteTransport) async {
        await ModbusResponder.serve(on: transport, station: UInt8(map.stationAddress)) { request in
            await advance()
            return answer(request).bytes
        }
    }

    /// Brings the plant to the clock's present time, in steps short against the time constant.
    public func advance() async {
        let now = await clock()
        defer { lastTime_s = now }
        guard let last = lastTime_s, now > last else { return }
        var remaining = now - last
        let step = plant.timeConstant_s / 50
        while remaining > 0 {
            let dt = min(step, remaining)
            // Exact for a heater power held constant over the step (the decay to ambient is exact at any step).
            let target = plant.ambient_C + heaterRise()
            temperature_C = target + (temperature_C - target) * exp(-dt / plant.timeConstant_s)
            remaining -= dt
        }
    }

    private func heaterRise() -> Double {
        guard outputEnabled else { return 0 }
        let wanted = (setpoint_C - plant.ambient_C) + plant.gain * (setpoint_C - temperature_C)
        return min(max(wanted, 0), plant.maximumRise_C)
    }

    private func register(_ address: Int) -> UInt16? {
        if address == map.processValueRegister {
            return map.registerValue(temperature_C: temperature_C)
        }
        if address == map.setpointRegister { return map.registerValue(temperature_C: setpoint_C) }
        if let enable = map.outputEnable, address == enable.register {
            return UInt16(clamping: outputEnabled ? enable.enabledValue : enable.disabledValue)
        }
        return nil
    }

    private func answer(_ request: ModbusRTUFrame) -> ModbusRTUFrame {
        ModbusResponder.answer(request, read: { register($0) }) { address, value in
            if address == map.setpointRegister {
                setpoint_C = map.temperature_C(register: value)
                setpointWrites.append(setpoint_C)
            } else if let enable = map.outputEnable, address == enable.register {
                guard Int(value) == enable.enabledValue || Int(value) == enable.disabledValue else {
                    return .illegalDataValue
                }
                outputEnabled = Int(value) == enable.enabledValue
            } else {
                return .illegalDataAddress
            }
            return nil
        }
    }
}
