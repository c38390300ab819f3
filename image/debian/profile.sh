# Installed by offhook: `offhook user add`, `offhook backup`... on the box work on the appliance's
# data without --data-dir.
export OFFHOOK_DATA=/var/lib/offhook
