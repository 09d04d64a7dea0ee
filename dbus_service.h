/*
 * The org.kernel.TCMUService1 bus service: an ObjectManager at
 * /org/kernel/TCMUService1 with one object per handler (ConfigDesc,
 * CheckConfig), which is what targetcli-fb reads, and a second one at
 * /org/kernel/TCMUService1/devices with one object per open device. The
 * devices sit under their own manager because targetcli turns every
 * object of the first into a user:<name> backstore.
 * Main thread only. Licensed under the Apache License, Version 2.0.
 */
#ifndef DBUS_SERVICE_H
#define DBUS_SERVICE_H

#include <stdbool.h>

#define BUS_NAME "org.kernel.TCMUService1"
#define ROOT_PATH "/org/kernel/TCMUService1"
#define DEVICES_PATH ROOT_PATH "/devices"
#define DEVICE_IFACE BUS_NAME ".Device"

struct dbus_service;
struct tcmur_daemon;
struct tcmur_device;

/*
 * Export the handlers and claim the bus name, before any device is
 * touched. No system bus is not an error: *out is NULL (every call below
 * takes it), the daemon serves devices without the bus and says so. A
 * bus that refuses the name is: -EACCES (no policy lets us own it: the
 * log says which file to install, or --no-dbus), -EEXIST (another
 * daemon owns it), -EIO; each logged with what to do.
 */
int dbus_service_new(struct dbus_service **out, struct tcmur_daemon *d);
void dbus_service_free(struct dbus_service *ds);
void dbus_service_add_device(struct dbus_service *ds, struct tcmur_device *dev);
void dbus_service_update_device(struct dbus_service *ds, struct tcmur_device *dev);
void dbus_service_remove_device(struct dbus_service *ds, struct tcmur_device *dev);
/* True when another process registered @subtype over the bus (its
 * devices are that process's to serve). */
bool dbus_service_is_external(const struct dbus_service *ds, const char *subtype);

#endif
