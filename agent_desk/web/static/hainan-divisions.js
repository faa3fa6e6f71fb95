/* 海南省 19 个市县 (the province's 19 prefecture- and county-level divisions) for the 观 map: the division
   code (GB/T 2260, as the sub-platforms' codes in asterisk_conf/numbers.yaml), the short name, and the tile's
   place on a schematic tile map.

   This is a SCHEMATIC, not a boundary map: each division is one tile, placed by the relative position of
   its territory on the island (north coast on top: 儋州 临高 澄迈 海口 文昌; 三亚 at the southern tip; 三沙,
   the South China Sea islands, as an inset). No boundary geometry is shipped: no boundary file whose licence
   allows shipping it was found reachable from the machine this was built on (the npm and PyPI registries
   offer none for Hainan's counties with a clear licence; GADM's licence forbids redistribution). Positions
   were laid out by hand from the divisions' public locations, so there is no third-party data here and no
   licence to carry. To draw real boundaries later,
   replace `x`/`y` tiles by paths from a licensed source and record its licence next to it.

   x, y: tile units, x eastwards, y southwards; `inset` marks a division drawn apart from the island. */
export const DIVISIONS = [
  { code: "460400", name: "儋州", x: 1, y: 0 },
  { code: "469024", name: "临高", x: 2, y: 0 },
  { code: "469023", name: "澄迈", x: 3, y: 0 },
  { code: "460100", name: "海口", x: 4, y: 0 },
  { code: "469026", name: "昌江", x: 0.5, y: 1 },
  { code: "469025", name: "白沙", x: 1.5, y: 1 },
  { code: "469022", name: "屯昌", x: 2.5, y: 1 },
  { code: "469021", name: "定安", x: 3.5, y: 1 },
  { code: "469005", name: "文昌", x: 4.5, y: 1 },
  { code: "469007", name: "东方", x: 0, y: 2 },
  { code: "469001", name: "五指山", x: 1, y: 2 },
  { code: "469030", name: "琼中", x: 2, y: 2 },
  { code: "469002", name: "琼海", x: 4, y: 2 },
  { code: "469027", name: "乐东", x: 0.5, y: 3 },
  { code: "469029", name: "保亭", x: 1.5, y: 3 },
  { code: "469028", name: "陵水", x: 2.5, y: 3 },
  { code: "469006", name: "万宁", x: 3.5, y: 3 },
  { code: "460200", name: "三亚", x: 1, y: 4 },
  { code: "460300", name: "三沙", x: 4.5, y: 4, inset: true },
];
